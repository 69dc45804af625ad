"""Tool calls: resolution, binding, error wrapping, hosts (sync and async) and analyze()."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from cy import CallSite, CyOptions, compile_script
from cy.errors import CyError, ToolInvocationError
from cy.host import LocalHost, ToolCall, invoke
from cy.natives import default_registry


def registry(**tools):
    reg = default_registry()
    for name, fn in tools.items():
        reg.register(name.replace("__", "::"), fn)
    return reg


def run(source, reg=None, **kwargs):
    return compile_script(source, reg).run(**kwargs).value


def error(source, reg=None, options=None, **kwargs) -> CyError:
    with pytest.raises(CyError) as info:
        compile_script(source, reg, options).run(**kwargs)
    return info.value


def test_native_spellings():
    assert run('return [len("abc"), str::len("ab"), list::len([1]), native::tools::len([])]') == [3, 2, 1, 0]
    assert run('return [str::uppercase("a"), uppercase("b"), json::parse("[1]"), parse("{}")]') == ["A", "B", [1], {}]


def test_positional_named_and_defaults():
    def search(query, limit=10, offset=0):
        return {"query": query, "limit": limit, "offset": offset}

    reg = registry(search=search)
    assert run('return search("a", 5, 20)', reg) == {"query": "a", "limit": 5, "offset": 20}
    assert run('return search(query="a", offset=3)', reg) == {"query": "a", "limit": 10, "offset": 3}
    assert run('return search("a", limit=1)', reg) == {"query": "a", "limit": 1, "offset": 0}


@pytest.mark.parametrize(
    "call, message",
    [
        ('len("a", 2)', "Too many positional arguments: got 2, expected at most 1"),
        ('len(x="a")', "Unknown parameter 'x'"),
        ('join(["a"], ",", separator=",")', "Parameter 'separator' specified both positionally and by name"),
        ("split()", "Missing required parameter 'text'"),
    ],
)
def test_binding_errors_are_runtime_tool_errors(call, message):
    exc = error(f"x = 1\nr = {call}\nreturn r")
    assert exc.type == "ToolInvocationError" and exc.message == message
    assert (exc.line, exc.column) == (2, 5)


def test_binding_errors_only_when_executed():
    assert run('if (False) { x = len("a", 2) }\nreturn 1') == 1


def test_tool_errors_are_wrapped():
    def boom(x):
        return 1 / 0

    def clean(x):
        raise ValueError("bad input")

    def leaky(x):
        raise OSError("cannot open /etc/secret/file.txt")

    reg = registry(boom=boom, clean=clean, leaky=leaky)
    exc = error("return boom(1)", reg)
    assert exc.message == "Tool 'native::tools::boom' failed: division by zero" and (exc.line, exc.column) == (1, 8)
    assert error("return clean(1)", reg).message == "bad input"
    assert error("return leaky(1)", reg).message == "Tool 'native::tools::leaky' failed: cannot open <redacted-path>"
    assert run('try { boom(1) } catch (e) { r = "${e}" }\nreturn r', reg) == (
        "Line 1, Col 7: Tool 'native::tools::boom' failed: division by zero"
    )


def test_results_tuples_become_lists_and_objects_are_opaque():
    class Secret:
        password = "hunter2"

        def __init__(self):
            self.token = "t"

    reg = registry(pair=lambda: (1, 2), obj=lambda: Secret())
    assert run("return pair()", reg) == [1, 2]
    assert run("o = obj()\nreturn [o.password, o.token, type_of(o)]", reg) == [None, None, "unknown"]
    assert error("o = obj()\nreturn o[0]", reg).message == "Cannot index object of type Secret"


def test_tools_share_mutable_values():
    def append(items, value):
        items.append(value)

    reg = registry(append=append)
    assert run("l = [1]\nappend(l, 2)\nreturn l", reg) == [1, 2]
    assert run("l = [1]\nn = 0\nfor (x in l) { n += 1 if (n < 3) { append(l, x) } }\nreturn [n, l]", reg) == [
        3,
        [1, 1, 1],
    ]


def test_namespaces_and_resolution_errors():
    reg = registry(app__vt__lookup=lambda ip: {"ip": ip}, app__a__run=lambda: "a", app__b__run=lambda: "b")
    assert run('return [app::vt::lookup("1.1.1.1").ip, lookup("x").ip]', reg) == ["1.1.1.1", "x"]
    exc = error("return run()", reg)
    assert exc.type == "AmbiguousToolError" and "Ambiguous tool name 'run'" in exc.message
    assert (exc.line, exc.column) == (1, 8)
    exc = error("x = 1\nreturn bogus_function()")
    assert exc.type == "ToolResolutionError" and exc.message == "Tool 'bogus_function' not found"
    assert (exc.line, exc.column) == (2, 8)
    exc = error('return security::ask("x")')
    assert exc.type == "CompilerError" and (exc.line, exc.column) == (1, 1)
    assert "Invalid 2-part namespace prefix 'security'" in exc.message
    assert "requires 3 parts" in error("return app::x()").message
    assert "Supported 3-part prefixes" in error("return foo::bar::baz()").message
    assert "native::tools::function_name" in error("return native::str::len()").message
    assert error("if (False) { x = nope() }\nreturn 1").type == "ToolResolutionError"


def test_assigning_tool_names():
    assert error("len = 1\nreturn len").message == "Cannot assign to 'len': conflicts with function name"
    assert error("sum = 1\nreturn sum").type == "CompilerError"
    assert run('str = "s"\nreturn [str, str(1)]') == ["s", "1"]
    exc = error("items = [1]\nlength = len\nreturn length")
    assert exc.type == "NameError" and (exc.line, exc.column) == (2, 10)


def test_stub_tools():
    options = CyOptions(stub_tools=True)
    assert compile_script('x = unknown_tool(1)\nreturn x ?? "stubbed"', options=options).run().value == "stubbed"
    assert compile_script("return app::foo::bar(1, k=2)", options=options).run().value is None
    with pytest.raises(CyError) as info:
        compile_script("return foo::bar()", options=options)
    assert info.value.type == "CompilerError"


@dataclass
class RecordingHost(LocalHost):
    calls: list = field(default_factory=list)

    def call_tool(self, call: ToolCall):
        self.calls.append((call.written_name, call.args, call.kwargs, call.line, call.column))
        return super().call_tool(call)


def test_non_pure_tools_go_through_the_host():
    reg = default_registry()
    reg.register("fetch", lambda x, y=0: x * 10 + y)
    host = RecordingHost()
    assert compile_script("a = fetch(1)\nb = fetch(2, y=3)\nreturn [a, b, len([1])]", reg).run(host=host).value == [10, 23, 1]
    assert host.calls == [("fetch", (1,), {}, 1, 5), ("fetch", (2,), {"y": 3}, 2, 5)]


def test_hi_latency_calls_are_answered_by_the_host():
    reg = default_registry()
    reg.register("ask", lambda question: "unused", hi_latency=True, pure=True)
    asked = []

    def answer(call):
        asked.append(call.named_args())
        return "yes"

    host = LocalHost(answer_human=answer)
    assert compile_script('return ask("Block?")', reg).run(host=host).value == "yes"
    assert asked == [{"arg_0": "Block?"}]


def test_log_uses_the_host():
    host = LocalHost()
    assert compile_script('log("a")\nlog(null)\nreturn log(1)').run(host=host).value == "1"
    assert host.logs == ["a", "None", "1"]


def test_async_run_with_async_tools_and_host():
    async def fetch(x):
        await asyncio.sleep(0)
        return x * 10

    reg = default_registry()
    reg.register("fetch", fetch)
    reg.register("afetch", fetch, pure=True)

    class AsyncHost(LocalHost):
        def call_tool(self, call):
            async def later():
                return await invoke(call, self)

            return later()

    program = compile_script("r = [fetch(x) for(x in [1, 2])]\nreturn r + [afetch(3), len([1, 2])]", reg)
    assert asyncio.run(program.run_async(host=AsyncHost())).value == [10, 20, 30, 2]
    assert program.run(host=AsyncHost()).value == [10, 20, 30, 2]
    assert program.run().value == [10, 20, 30, 2]


def test_async_errors_keep_positions():
    async def boom():
        raise RuntimeError("nope")

    reg = default_registry()
    reg.register("boom", boom)
    with pytest.raises(ToolInvocationError) as info:
        asyncio.run(compile_script("x = 1\nreturn boom()", reg).run_async())
    assert info.value.message == "Tool 'native::tools::boom' failed: nope" and info.value.line == 2


def test_analyze():
    reg = default_registry()
    reg.register("app::slack::ask", lambda q: q, hi_latency=True)
    program = compile_script(
        'x = len(items)\nif (x > limit) { a = app::slack::ask("q?") }\ny = [z for(z in items)]\nreturn "${x} ${input} ${other}"',
        reg,
    )
    analysis = program.analyze()
    assert analysis.tools_used == ["app::slack::ask", "native::str::len"] or analysis.tools_used == sorted(analysis.tools_used)
    assert "app::slack::ask" in analysis.tools_used
    assert analysis.external_variables == ["items", "limit", "other"]
    assert analysis.hi_latency_calls == [CallSite("app::slack::ask", "app::slack::ask", 2, 22)]


def test_program_is_reusable_and_runs_are_independent():
    program = compile_script("count = (count ?? 0) + 1\nreturn count")
    assert program.run(variables={"count": 1}).value == 2
    assert program.run(variables={"count": 5}).value == 6
    with pytest.raises(CyError):
        program.run()
