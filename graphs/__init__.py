"""Workflow graphs: saved tasks composed into a directed acyclic graph of nodes.

* :mod:`graphs.definition` parses a definition (nodes and edges) and checks its structure:
  one entry node, every node reachable, no cycle, the fields each node kind needs;
* :mod:`graphs.schemas` checks that a node's input schema can accept what its predecessors
  produce, propagating schemas through the nodes that only reshape values;
* :mod:`graphs.values` computes node inputs, merges and envelopes (deterministic: the
  workflow uses it).

Pure code with no I/O: the API validates with it on save, the workflow runs with it.
"""
