"""String natives: case, join, split, replace, trim, prefixes, markdown, base64, URL, regex."""

import re

import pytest

from cy.natives import default_registry

REGISTRY = default_registry()


def fn(name):
    return REGISTRY.resolve(name).fn


@pytest.mark.parametrize("name", ["uppercase", "str::uppercase"])
def test_uppercase(name):
    upper = fn(name)
    assert upper("hello") == "HELLO"
    assert upper(None) == "NONE"
    assert upper(1.5) == "1.5"
    assert upper(["a"]) == "['A']"


@pytest.mark.parametrize("name", ["lowercase", "str::lowercase"])
def test_lowercase(name):
    lower = fn(name)
    assert lower("HeLLo") == "hello"
    assert lower(None) == "none"
    assert lower(True) == "true"


@pytest.mark.parametrize("name", ["join", "str::join"])
def test_join(name):
    join = fn(name)
    assert join(["apple", "banana"], ", ") == "apple, banana"
    assert join(["home", "user"], "/") == "home/user"
    assert join(["a", "b", "c"]) == "a, b, c"
    assert join([], "-") == ""
    assert join(["x"], "+") == "x"
    assert join([1, 2, 3], " + ") == "1 + 2 + 3"
    assert join(["a", 1, None, True]) == "a, 1, None, True"
    assert join("abc", "-") == "a-b-c"
    assert join({"a": 1, "b": 2}) == "a, b"
    assert join([[1], {"k": 2.0}], ";") == "[1];{'k': 2.0}"


def test_join_failures_are_python_errors():
    join = fn("join")
    with pytest.raises(TypeError, match="^'NoneType' object is not iterable$"):
        join(None)
    with pytest.raises(AttributeError, match="^'NoneType' object has no attribute 'join'$"):
        join(["a"], None)
    with pytest.raises(AttributeError, match="^'NoneType' object has no attribute 'join'$"):
        join(None, None)


@pytest.mark.parametrize("name", ["split", "str::split"])
def test_split(name):
    split = fn(name)
    assert split("a,b,c", ",") == ["a", "b", "c"]
    assert split("hello world") == ["hello", "world"]
    assert split("a b  c") == ["a", "b", "", "c"]
    assert split("a  b") == ["a", "", "b"]
    assert split("/home/user/docs", "/") == ["", "home", "user", "docs"]
    assert split("") == [""]
    assert split("x-y", "-") == ["x", "y"]


def test_split_errors():
    split = fn("split")
    with pytest.raises(ValueError, match=re.escape("split() requires string, got NoneType")):
        split(None)
    with pytest.raises(ValueError, match=re.escape("split() requires string, got list")):
        split(["a"])
    with pytest.raises(ValueError, match=re.escape("split() delimiter must be string, got int")):
        split("a1b", 1)
    with pytest.raises(ValueError, match="^empty separator$"):
        split("abc", "")


@pytest.mark.parametrize("name", ["replace", "str::replace"])
def test_replace(name):
    replace = fn(name)
    assert replace("hello world", "world", "there") == "hello there"
    assert replace("foo foo foo", "foo", "bar") == "bar bar bar"
    assert replace("ab", "", "-") == "-a-b-"
    assert replace("abc", "x", "y") == "abc"


def test_replace_errors():
    replace = fn("replace")
    with pytest.raises(ValueError, match=re.escape("replace() requires string, got NoneType")):
        replace(None, "a", "b")
    with pytest.raises(ValueError, match=re.escape("replace() old must be string, got int")):
        replace("a", 1, "b")
    with pytest.raises(ValueError, match=re.escape("replace() new must be string, got NoneType")):
        replace("a", "a", None)


@pytest.mark.parametrize("name", ["trim", "str::trim"])
def test_trim(name):
    trim = fn(name)
    assert [trim("  Alice  "), trim("\n\tvalue\t\n"), trim(""), trim(" x ")] == ["Alice", "value", "", "x"]
    with pytest.raises(ValueError, match=re.escape("trim() requires string, got int")):
        trim(5)


@pytest.mark.parametrize("name", ["startswith", "str::startswith"])
def test_startswith(name):
    starts = fn(name)
    assert starts("hello world", "hello") is True
    assert starts("hello world", "world") is False
    assert starts("", "test") is False
    assert starts("test", "") is True
    with pytest.raises(ValueError, match=re.escape("startswith() text must be string, got NoneType")):
        starts(None, "a")
    with pytest.raises(ValueError, match=re.escape("startswith() prefix must be string, got list")):
        starts("a", ["a"])


@pytest.mark.parametrize("name", ["endswith", "str::endswith"])
def test_endswith(name):
    ends = fn(name)
    assert ends("file.txt", ".txt") is True
    assert ends("hello world", "hello") is False
    assert ends("test", "") is True
    with pytest.raises(ValueError, match=re.escape("endswith() suffix must be string, got NoneType")):
        ends("a", None)
    with pytest.raises(ValueError, match=re.escape("endswith() text must be string, got int")):
        ends(1, "a")


@pytest.mark.parametrize("name", ["strip_markdown", "str::strip_markdown"])
def test_strip_markdown(name):
    strip = fn(name)
    assert strip("```python\nprint(1)\n```") == "print(1)\n"
    assert strip("Use `code` here") == "Use code here"
    assert strip("```\ncode\n```\ntext") == "code\ntext"
    assert strip("**bold** stays") == "**bold** stays"
    assert strip("`x`") == "x"
    assert strip("``") == "``"
    with pytest.raises(ValueError, match=re.escape("strip_markdown() requires string, got NoneType")):
        strip(None)


@pytest.mark.parametrize(("encode_name", "decode_name"), [("base64_encode", "base64_decode"), ("str::base64_encode", "str::base64_decode")])
def test_base64(encode_name, decode_name):
    encode, decode = fn(encode_name), fn(decode_name)
    assert encode("user:pass") == "dXNlcjpwYXNz"
    assert encode("hello") == "aGVsbG8="
    assert encode("") == ""
    assert encode("ü") == "w7w="
    assert decode("aGVsbG8=") == "hello"
    assert decode(encode("secret data")) == "secret data"
    assert decode("!!") == ""
    assert decode("aGVs\nbG8=") == "hello"


def test_base64_errors():
    encode, decode = fn("base64_encode"), fn("base64_decode")
    with pytest.raises(ValueError, match=re.escape("base64_encode() requires a string, got NoneType")):
        encode(None)
    with pytest.raises(ValueError, match=re.escape("base64_decode() requires a string, got int")):
        decode(5)
    with pytest.raises(ValueError, match=re.escape("base64_decode() invalid base64 input: Incorrect padding")):
        decode("aGVsbG8")
    with pytest.raises(ValueError, match=re.escape("base64_decode() invalid base64 input: 'utf-8' codec can't decode")):
        decode("/w==")
    with pytest.raises(ValueError, match=re.escape("base64_decode() invalid base64 input: string argument should contain only ASCII")):
        decode("é")


@pytest.mark.parametrize("name", ["url_encode", "url::encode", "encode"])
def test_url_encode(name):
    encode = fn(name)
    assert encode("hello world") == "hello%20world"
    assert encode("foo@bar.com") == "foo%40bar.com"
    assert encode("a=b&c=d") == "a%3Db%26c%3Dd"
    assert encode("a b/c?") == "a%20b%2Fc%3F"
    assert encode("ü") == "%C3%BC"
    assert encode("~-._") == "~-._"
    assert encode("/") == "%2F"
    with pytest.raises(ValueError, match=re.escape("url_encode() requires string, got NoneType")):
        encode(None)


@pytest.mark.parametrize("name", ["url_decode", "url::decode", "decode"])
def test_url_decode(name):
    decode = fn(name)
    assert decode("hello%20world") == "hello world"
    assert decode("a%3Db%26c%3Dd") == "a=b&c=d"
    assert decode("a+b") == "a+b"
    assert decode("%zz") == "%zz"
    assert decode("%2F") == "/"
    assert decode("%C3%BC") == "ü"
    with pytest.raises(ValueError, match=re.escape("url_decode() requires string, got int")):
        decode(1)


@pytest.mark.parametrize("name", ["regex_match", "regex::match", "match"])
def test_regex_match(name):
    match = fn(name)
    assert match(r"\d+", "abc123") is True
    assert match(r"^\d+$", "abc123") is False
    assert match("[A-Z]+", "hello") is False
    assert match(r"\.", "a.b") is True
    assert match(r"\.", "ab") is False
    assert match("", "") is True


@pytest.mark.parametrize(("name", "label"), [("regex_match", "regex_match"), ("regex_extract", "regex_extract"), ("match", "regex_match"), ("extract", "regex_extract")])
def test_regex_errors(name, label):
    function = fn(name)
    with pytest.raises(ValueError, match=re.escape(f"{label}() pattern must be string, got NoneType")):
        function(None, "a")
    with pytest.raises(ValueError, match=re.escape(f"{label}() text must be string, got NoneType")):
        function("a", None)
    with pytest.raises(ValueError, match=re.escape("Invalid regex pattern '[': unterminated character set at position 0")):
        function("[", "a")


@pytest.mark.parametrize("name", ["regex_extract", "regex::extract", "extract"])
def test_regex_extract(name):
    extract = fn(name)
    assert extract(r"\d+", "Price: 123 dollars") == "123"
    assert extract(r"User: (\w+)", "User: alice") == "alice"
    assert extract(r"@([\w.-]+)", "user@example.com") == "example.com"
    assert extract(r"\d+", "no numbers") == ""
    assert extract(r"(\d+)-(\d+)", "12-34") == "12"
    assert extract("([A-Z]+)", "hello WORLD") == "WORLD"
    assert extract(r"(\w+)@", "me@x") == "me"
    assert extract("(x)?y", "y") is None
    assert extract("Beacon", r"(\d+\.\d+\.\d+\.\d+)") == ""
