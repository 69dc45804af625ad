"""What every layer knows about a TaskRun's workflow, and the client side of Temporal.

* :mod:`taskrun.contract`: the shared vocabulary (workflow, signal and search attribute names,
  run statuses, the payload dataclasses, the run error shape). It imports nothing from the
  product, so any package may use it.
* :mod:`taskrun.outcome`: what a workflow closed from outside means for its run's row.
* :mod:`taskrun.search_attributes`: registering and checking the custom search attributes.
* :mod:`taskrun.client`: starting, cancelling, describing and signalling run workflows.

Nothing here is workflow code: the workflows themselves live in ``workflows/``, which imports
this package, never the other way round.
"""
