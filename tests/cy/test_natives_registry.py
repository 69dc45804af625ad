"""Which spellings the native registry answers to, and the flags every native carries."""

import json
import re
from pathlib import Path

import pytest

from cy.errors import AmbiguousToolError, CompilerError, ToolResolutionError
from cy.natives import FLAT_NAMES, default_registry

FLAT = {
    "len",
    "sum",
    "log",
    "min",
    "max",
    "from_json",
    "to_json",
    "is_ip",
    "is_ipv4",
    "is_ipv6",
    "regex_match",
    "regex_extract",
    "url_encode",
    "url_decode",
    "timestamp_compare",
    "__to_iterable",
}

# Every spelling of §22, grouped by function: (written name, FQN it resolves to).
SPELLINGS = {
    "len": [
        ("len", "native::tools::len"),
        ("str::len", "native::str::len"),
        ("list::len", "native::list::len"),
        ("dict::len", "native::dict::len"),
        ("native::tools::len", "native::tools::len"),
    ],
    "sum": [("sum", "native::tools::sum"), ("list::sum", "native::list::sum")],
    "str": [("str", "native::type::str"), ("type::str", "native::type::str")],
    "int": [("int", "native::type::int"), ("type::int", "native::type::int")],
    "num": [("num", "native::type::num"), ("type::num", "native::type::num")],
    "bool": [("bool", "native::type::bool"), ("type::bool", "native::type::bool")],
    "type_of": [("type_of", "native::type::type_of"), ("type::type_of", "native::type::type_of")],
    "log": [("log", "native::tools::log"), ("native::tools::log", "native::tools::log")],
    "range": [("range", "native::list::range"), ("list::range", "native::list::range")],
    "from_json": [
        ("from_json", "native::tools::from_json"),
        ("json::parse", "native::json::parse"),
        ("parse", "native::json::parse"),
    ],
    "to_json": [
        ("to_json", "native::tools::to_json"),
        ("json::stringify", "native::json::stringify"),
        ("stringify", "native::json::stringify"),
    ],
    "uppercase": [("uppercase", "native::str::uppercase"), ("str::uppercase", "native::str::uppercase")],
    "lowercase": [("lowercase", "native::str::lowercase"), ("str::lowercase", "native::str::lowercase")],
    "join": [("join", "native::str::join"), ("str::join", "native::str::join")],
    "split": [("split", "native::str::split"), ("str::split", "native::str::split")],
    "replace": [("replace", "native::str::replace"), ("str::replace", "native::str::replace")],
    "trim": [("trim", "native::str::trim"), ("str::trim", "native::str::trim")],
    "startswith": [("startswith", "native::str::startswith"), ("str::startswith", "native::str::startswith")],
    "endswith": [("endswith", "native::str::endswith"), ("str::endswith", "native::str::endswith")],
    "strip_markdown": [
        ("strip_markdown", "native::str::strip_markdown"),
        ("str::strip_markdown", "native::str::strip_markdown"),
    ],
    "base64_encode": [
        ("base64_encode", "native::str::base64_encode"),
        ("str::base64_encode", "native::str::base64_encode"),
    ],
    "base64_decode": [
        ("base64_decode", "native::str::base64_decode"),
        ("str::base64_decode", "native::str::base64_decode"),
    ],
    "url_encode": [
        ("url_encode", "native::tools::url_encode"),
        ("url::encode", "native::url::encode"),
        ("encode", "native::url::encode"),
    ],
    "url_decode": [
        ("url_decode", "native::tools::url_decode"),
        ("url::decode", "native::url::decode"),
        ("decode", "native::url::decode"),
    ],
    "regex_match": [
        ("regex_match", "native::tools::regex_match"),
        ("regex::match", "native::regex::match"),
        ("match", "native::regex::match"),
    ],
    "regex_extract": [
        ("regex_extract", "native::tools::regex_extract"),
        ("regex::extract", "native::regex::extract"),
        ("extract", "native::regex::extract"),
    ],
    "sort": [("sort", "native::list::sort"), ("list::sort", "native::list::sort")],
    "reverse": [("reverse", "native::list::reverse"), ("list::reverse", "native::list::reverse")],
    "take": [("take", "native::list::take"), ("list::take", "native::list::take")],
    "slice": [("slice", "native::list::slice"), ("list::slice", "native::list::slice")],
    "index_of": [("index_of", "native::list::index_of"), ("list::index_of", "native::list::index_of")],
    "unique": [("unique", "native::list::unique"), ("list::unique", "native::list::unique")],
    "flatten": [("flatten", "native::list::flatten"), ("list::flatten", "native::list::flatten")],
    "min": [("min", "native::tools::min"), ("list::min", "native::list::min")],
    "max": [("max", "native::tools::max"), ("list::max", "native::list::max")],
    "keys": [("keys", "native::dict::keys"), ("dict::keys", "native::dict::keys")],
    "values": [("values", "native::dict::values"), ("dict::values", "native::dict::values")],
    "abs": [("abs", "native::math::abs"), ("math::abs", "native::math::abs")],
    "round": [("round", "native::math::round"), ("math::round", "native::math::round")],
    "is_ipv4": [("is_ipv4", "native::tools::is_ipv4"), ("ip::is_v4", "native::ip::is_v4"), ("is_v4", "native::ip::is_v4")],
    "is_ipv6": [("is_ipv6", "native::tools::is_ipv6"), ("ip::is_v6", "native::ip::is_v6"), ("is_v6", "native::ip::is_v6")],
    "is_ip": [("is_ip", "native::tools::is_ip"), ("ip::is_valid", "native::ip::is_valid"), ("is_valid", "native::ip::is_valid")],
    "now": [("now", "native::time::now"), ("time::now", "native::time::now")],
    "parse_duration": [
        ("parse_duration", "native::time::parse_duration"),
        ("time::parse_duration", "native::time::parse_duration"),
    ],
    "format_duration": [
        ("format_duration", "native::time::format_duration"),
        ("time::format_duration", "native::time::format_duration"),
    ],
    "add_duration": [
        ("add_duration", "native::time::add_duration"),
        ("time::add_duration", "native::time::add_duration"),
    ],
    "subtract_duration": [
        ("subtract_duration", "native::time::subtract_duration"),
        ("time::subtract_duration", "native::time::subtract_duration"),
    ],
    "duration_between": [
        ("duration_between", "native::time::duration_between"),
        ("time::duration_between", "native::time::duration_between"),
    ],
    "timestamp_compare": [
        ("timestamp_compare", "native::tools::timestamp_compare"),
        ("time::compare", "native::time::compare"),
        ("compare", "native::time::compare"),
    ],
    "from_epoch": [("from_epoch", "native::time::from_epoch"), ("time::from_epoch", "native::time::from_epoch")],
    "to_epoch": [("to_epoch", "native::time::to_epoch"), ("time::to_epoch", "native::time::to_epoch")],
    "__to_iterable": [("__to_iterable", "native::tools::__to_iterable")],
}

ALL_SPELLINGS = [(group, name, fqn) for group, pairs in SPELLINGS.items() for name, fqn in pairs]


@pytest.fixture(scope="module")
def registry():
    return default_registry()


@pytest.mark.parametrize(("group", "name", "fqn"), ALL_SPELLINGS)
def test_every_spelling_resolves(registry, group, name, fqn):
    assert registry.resolve(name).fqn == fqn


@pytest.mark.parametrize("group", sorted(SPELLINGS))
def test_all_spellings_of_a_native_share_one_function(registry, group):
    functions = {id(registry.resolve(name).fn) for name, _ in SPELLINGS[group]}
    assert len(functions) == 1


def test_registered_fqns_are_exactly_the_spellings(registry):
    expected = {fqn for _, _, fqn in ALL_SPELLINGS}
    assert {spec.fqn for spec in registry} == expected


def test_flat_keys_are_the_legacy_names(registry):
    assert FLAT_NAMES == FLAT
    flat = {spec.short_name for spec in registry if spec.fqn.startswith("native::tools::")}
    assert flat == FLAT
    assert FLAT <= registry.flat_names
    for name in ("str", "int", "keys", "round", "split", "now", "range", "uppercase", "parse"):
        assert name not in registry.flat_names


@pytest.mark.parametrize(
    "name",
    ["native::tools::uppercase", "native::tools::str", "native::tools::now", "native::tools::parse"],
)
def test_namespaced_only_natives_do_not_live_under_tools(registry, name):
    with pytest.raises(ToolResolutionError, match=re.escape(f"Tool '{name}' not found")):
        registry.resolve(name)


def test_unknown_and_unregistered_names(registry):
    for name in ("print", "pow", "llm_run", "str::nope"):
        with pytest.raises(ToolResolutionError, match=re.escape(f"Tool '{name}' not found")):
            registry.resolve(name)
    with pytest.raises(CompilerError, match="Invalid 2-part namespace prefix 'net' in 'net::is_ipv4'"):
        registry.resolve("net::is_ipv4")


def test_every_native_is_pure_and_described(registry):
    for spec in registry:
        assert spec.pure is True, spec.fqn
        assert spec.hi_latency is False
        assert spec.description and "\n" not in spec.description, spec.fqn


def test_only_log_and_now_use_the_host(registry):
    hosted = {spec.fqn for spec in registry if spec.uses_host}
    assert hosted == {"native::tools::log", "native::time::now"}
    assert [p.name for p in registry.get("native::tools::log").params] == ["message"]
    assert [(p.name, p.default) for p in registry.get("native::time::now").params] == [("timezone", "UTC")]


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("len", [("arg", True, None)]),
        ("join", [("items", True, None), ("separator", False, ", ")]),
        ("split", [("text", True, None), ("delimiter", False, " ")]),
        ("range", [("start", True, None), ("end", False, None), ("step", False, 1)]),
        ("to_json", [("data", True, None), ("indent", False, None)]),
        ("slice", [("items", True, None), ("start", True, None), ("end", False, None)]),
        ("round", [("value", True, None), ("decimals", False, 0)]),
        ("timestamp_compare", [("timestamp1", True, None), ("operator", True, None), ("timestamp2", True, None)]),
        ("from_epoch", [("seconds", True, None), ("timezone", False, "UTC")]),
        ("from_json", [("json_str", True, None)]),
        ("take", [("items", True, None), ("n", True, None)]),
    ],
)
def test_parameter_names_match_the_reference(registry, name, params):
    spec = registry.resolve(name)
    assert [(p.name, p.required, p.default) for p in spec.params] == params


def test_parameter_json_types_feed_the_type_checker(registry):
    assert registry.resolve("uppercase").params[0].json_type == "string"
    assert registry.resolve("len").params[0].json_type is None
    assert registry.resolve("keys").params[0].json_type == "object"
    assert registry.resolve("take").params[1].json_type == "integer"


def test_default_registry_is_fresh_each_time():
    first = default_registry()
    first.register("len", lambda arg: -1, pure=True)
    first.register("app::x::y", lambda: 1)
    second = default_registry()
    assert second.resolve("len").fn("abc") == 3
    assert "app::x::y" not in second


def test_host_flat_tool_with_a_native_short_name_is_ambiguous():
    registry = default_registry()
    registry.register("uppercase", lambda x: "custom")
    with pytest.raises(AmbiguousToolError, match="Ambiguous tool name 'uppercase'"):
        registry.resolve("uppercase")


def test_host_flat_tool_replaces_a_flat_native():
    registry = default_registry()
    registry.register("len", lambda arg: 99)
    assert registry.resolve("len").fn("x") == 99
    assert registry.resolve("str::len").fn("x") == 1


CORPUS = Path("/work/shared/cy/conformance.jsonl")


@pytest.mark.skipif(not CORPUS.exists(), reason="conformance corpus not available")
def test_every_native_feature_of_the_corpus_resolves(registry):
    features = set()
    for line in CORPUS.read_text().splitlines():
        case = json.loads(line)
        features |= {f.split(":", 1)[1] for f in case["features"] if f.startswith("native:")}
    missing = {name for name in features - {"llm_run"} if name not in {s.short_name for s in registry}}
    assert not missing
    for name in features - {"llm_run", "__to_iterable"}:
        registry.resolve(name)
