#!/usr/bin/env python3
"""kgen: generates Sluice's C++20 Kafka message codecs from schema/*.kmsg.

The schema language and the generated API are described in ../README.md. Standard library only.

usage: kgen.py --out DIR SCHEMA.kmsg...

Writes, under DIR/kafka/protocol/:
  messages/<api>.h, messages/<api>.cc   request + response structs and codecs of one API
  messages/all.h                        every API, plus visit_api()/for_each_api()
  api_table.h, api_table.cc             api_key enum, versions table, header-version rules
  messages/samples.h, samples.cc        fill_sample() for tests and fuzzers (not in the library)
Files whose content did not change are not rewritten, so a schema edit rebuilds one API.
"""

import argparse
import os
import re
import sys

PRIMITIVES = {
    # name: (C++ type, fixed size or None for variable, writer/reader suffix)
    "int8": ("int8_t", 1, "int8"),
    "int16": ("int16_t", 2, "int16"),
    "int32": ("int32_t", 4, "int32"),
    "int64": ("int64_t", 8, "int64"),
    "uint16": ("uint16_t", 2, "uint16"),
    "uint32": ("uint32_t", 4, "uint32"),
    "varint": ("int32_t", 1, "varint"),
    "varlong": ("int64_t", 1, "varlong"),
    "float64": ("double", 8, "float64"),
    "bool": ("bool", 1, "bool"),
    "uuid": ("uuid", 16, "uuid"),
}
INT_BITS = {"int8": 8, "int16": 16, "int32": 32, "int64": 64, "uint16": 16, "uint32": 32, "varint": 32, "varlong": 64}
VARLEN = {"string", "bytes", "records"}
CPP_KEYWORDS = set("""alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t
char32_t class compl concept const consteval constexpr constinit const_cast continue co_await co_return co_yield
decltype default delete do double dynamic_cast else enum explicit export extern false float for friend goto if
inline int long mutable namespace new noexcept not not_eq nullptr operator or or_eq private protected public
register reinterpret_cast requires return short signed sizeof static static_assert static_cast struct switch
template this thread_local throw true try typedef typeid typename union unsigned using virtual void volatile
wchar_t while xor xor_eq""".split())
RESERVED_MEMBERS = {"read", "write", "check_writable", "min_size", "unknown_tags"}
RESERVED_TYPES = {"reader", "writer", "uuid", "tagged_field", "tagged_fields", "tag_section_writer", "errc",
                  "error_code", "error", "result", "api_key", "api_info"}
TOP_LEVEL_STATICS = {"api_key", "min_version", "max_version", "first_flexible_version", "is_flexible"}


class SchemaError(Exception):
    pass


def snake(name):
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    s = re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"_\1", s)
    return s.lower()


class Versions:
    """A closed range of versions [lo, hi]; hi None = open-ended; empty when lo is None."""

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    @staticmethod
    def parse(text, where):
        if text == "none":
            return Versions(None, None)
        m = re.fullmatch(r"(\d+)(\+|-(\d+))?", text)
        if not m:
            raise SchemaError(f"{where}: bad version range '{text}'")
        lo = int(m.group(1))
        if m.group(2) == "+":
            return Versions(lo, None)
        if m.group(3) is not None:
            hi = int(m.group(3))
            if hi < lo:
                raise SchemaError(f"{where}: empty version range '{text}'")
            return Versions(lo, hi)
        return Versions(lo, lo)

    def empty(self):
        return self.lo is None

    def contains(self, v):
        return not self.empty() and v >= self.lo and (self.hi is None or v <= self.hi)

    def intersect(self, other):
        if self.empty() or other.empty():
            return Versions(None, None)
        lo = max(self.lo, other.lo)
        his = [h for h in (self.hi, other.hi) if h is not None]
        hi = min(his) if his else None
        if hi is not None and hi < lo:
            return Versions(None, None)
        return Versions(lo, hi)

    def covers(self, other):
        """True when every version of `other` is in self."""
        if other.empty():
            return True
        if self.empty():
            return False
        if other.lo < self.lo:
            return False
        if self.hi is None:
            return True
        return other.hi is not None and other.hi <= self.hi

    def cond(self, within, var="version"):
        """C++ condition for `var in self`, simplified knowing var is within `within`."""
        eff = self.intersect(within)
        if eff.empty():
            return "false"
        if eff.covers(within):
            return "true"
        need_lo = eff.lo > within.lo
        need_hi = eff.hi is not None and (within.hi is None or eff.hi < within.hi)
        if eff.lo == eff.hi and self.hi is not None:
            return f"{var} == {eff.lo}"
        parts = []
        if need_lo:
            parts.append(f"{var} >= {eff.lo}")
        if need_hi:
            parts.append(f"{var} <= {eff.hi}")
        return " && ".join(parts)

    def __str__(self):
        if self.empty():
            return "none"
        if self.hi is None:
            return f"{self.lo}+"
        return f"{self.lo}" if self.lo == self.hi else f"{self.lo}-{self.hi}"


class Field:
    def __init__(self, name, type_text, versions, where):
        self.name = name
        self.cname = snake(name)
        self.type_text = type_text
        self.versions = versions
        self.nullable = Versions(None, None)
        self.tag = None
        self.default = None
        self.ignorable = False
        self.comment = ""
        self.children = []
        self.where = where
        self.struct = None  # Struct for struct / array-of-struct fields

    @property
    def is_array(self):
        return self.type_text.startswith("[]")

    @property
    def elem(self):
        return self.type_text[2:] if self.is_array else self.type_text

    @property
    def is_struct(self):
        return self.elem not in PRIMITIVES and self.elem not in VARLEN

    @property
    def nullable_type(self):
        return not self.nullable.empty()


class Struct:
    def __init__(self, name, cname, fields, where):
        self.name, self.cname, self.fields, self.where = name, cname, fields, where
        self.path = cname  # qualified C++ name, set by Message


class Message:
    def __init__(self, api, kind, fields):
        self.api, self.kind = api, kind
        self.cname = f"{snake(api.name)}_{kind}"
        self.root = Struct(api.name + kind.capitalize(), self.cname, fields, api.path)
        self.root.path = self.cname
        self.nested = []  # post-order: inner structs before the structs that use them
        self._collect(self.root)
        self._check_names()

    def _collect(self, st):
        for f in st.fields:
            if f.is_struct:
                if not f.children:
                    raise SchemaError(f"{f.where}: struct type '{f.elem}' of field {f.name} has no fields")
                sub = Struct(f.elem, snake(f.elem), f.children, f.where)
                sub.path = f"{self.cname}::{sub.cname}"
                f.struct = sub
                self._collect(sub)
                self.nested.append(sub)
            elif f.children:
                raise SchemaError(f"{f.where}: field {f.name} of type {f.type_text} cannot have nested fields")

    def _check_names(self):
        seen = {}
        for st in self.nested:
            if st.cname in RESERVED_TYPES:
                raise SchemaError(f"{st.where}: struct name {st.name} is taken by the wire layer")
            if st.cname in seen:
                raise SchemaError(f"{st.where}: struct name {st.name} used twice in {self.cname}")
            seen[st.cname] = st
        field_names = set()
        for st in [self.root] + self.nested:
            names = set()
            for f in st.fields:
                if f.cname in names:
                    raise SchemaError(f"{f.where}: duplicate field {f.name}")
                names.add(f.cname)
                reserved = RESERVED_MEMBERS | (TOP_LEVEL_STATICS if st is self.root else set())
                if f.cname in CPP_KEYWORDS or f.cname in reserved:
                    raise SchemaError(f"{f.where}: field name {f.name} is reserved in C++ or by the codec")
            field_names |= names
            tags = [f.tag for f in st.fields if f.tag is not None]
            if len(tags) != len(set(tags)):
                raise SchemaError(f"{st.where}: duplicate tag in {st.name}")
        clash = field_names & set(seen)
        if clash:
            raise SchemaError(f"{self.api.path}: struct and field share a name in {self.cname}: {sorted(clash)}")


class Api:
    def __init__(self, path):
        self.path = path
        self.name = None
        self.key = None
        self.versions = None
        self.flexible = None
        self.comment = []
        self.request = None
        self.response = None

    @property
    def stem(self):
        return snake(self.name)

    def flex_cond(self, var="version"):
        return self.flexible.cond(self.versions, var)


FIELD_RE = re.compile(r"([A-Za-z][A-Za-z0-9]*)\s+(\S+)\s+(\S+)(.*)")


def parse_schema(path):
    api = Api(path)
    sections = {}
    current = None
    stack = []  # (indent, field)
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    for lineno, raw in enumerate(lines, 1):
        where = f"{path}:{lineno}"
        text, _, comment = raw.partition("#")
        comment = comment.strip()
        if not text.strip():
            if comment and current is None and api.name is None:
                api.comment.append(comment)
            continue
        if "\t" in text:
            raise SchemaError(f"{where}: tabs are not allowed; indent with spaces")
        indent = len(text) - len(text.lstrip(" "))
        body = text.strip()
        if indent == 0:
            words = body.split()
            if words[0] == "api":
                if api.name is not None:
                    raise SchemaError(f"{where}: second 'api' line")
                if len(words) < 2:
                    raise SchemaError(f"{where}: 'api' needs a name")
                api.name = words[1]
                attrs = dict(w.split("=", 1) for w in words[2:] if "=" in w)
                if set(attrs) != {"key", "versions", "flexible"}:
                    raise SchemaError(f"{where}: 'api' takes key=, versions= and flexible=")
                api.key = int(attrs["key"])
                api.versions = Versions.parse(attrs["versions"], where)
                api.flexible = Versions.parse(attrs["flexible"].rstrip(), where)
                if api.versions.empty() or api.versions.hi is None:
                    raise SchemaError(f"{where}: api versions must be a closed range")
                if not api.flexible.empty() and api.flexible.hi is not None:
                    raise SchemaError(f"{where}: flexible versions must be 'none' or 'N+'")
            elif words[0] in ("request", "response") and len(words) == 1:
                if api.name is None:
                    raise SchemaError(f"{where}: '{words[0]}' before the 'api' line")
                if words[0] in sections:
                    raise SchemaError(f"{where}: second '{words[0]}' section")
                current = sections[words[0]] = []
                stack = []
            else:
                raise SchemaError(f"{where}: expected 'api', 'request' or 'response'")
            continue
        if current is None:
            raise SchemaError(f"{where}: field outside a request/response section")
        if indent % 2:
            raise SchemaError(f"{where}: indent by multiples of two spaces")
        m = FIELD_RE.fullmatch(body)
        if not m:
            raise SchemaError(f"{where}: expected 'Name type versions [attributes]'")
        name, type_text, vtext, rest = m.groups()
        f = Field(name, type_text, Versions.parse(vtext, where), where)
        f.comment = comment
        for attr in rest.split():
            if attr == "ignorable":
                f.ignorable = True
            elif attr.startswith("nullable="):
                f.nullable = Versions.parse(attr[9:], where)
            elif attr.startswith("tag="):
                f.tag = int(attr[4:])
            elif attr.startswith("default="):
                f.default = attr[8:]
            else:
                raise SchemaError(f"{where}: unknown attribute '{attr}'")
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if stack:
            if indent != stack[-1][0] + 2:
                raise SchemaError(f"{where}: nested fields are indented two spaces more than their parent")
            stack[-1][1].children.append(f)
        else:
            if indent != 2:
                raise SchemaError(f"{where}: top-level fields are indented two spaces")
            current.append(f)
        stack.append((indent, f))
    if api.name is None or set(sections) != {"request", "response"}:
        raise SchemaError(f"{path}: needs an 'api' line and both 'request' and 'response' sections")
    api.request = Message(api, "request", sections["request"])
    api.response = Message(api, "response", sections["response"])
    for msg in (api.request, api.response):
        for st in [msg.root] + msg.nested:
            for f in st.fields:
                check_field(api, f)
    return api


def check_field(api, f):
    where = f.where
    elem = f.elem
    if elem not in PRIMITIVES and elem not in VARLEN and not re.fullmatch(r"[A-Z][A-Za-z0-9]*", elem):
        raise SchemaError(f"{where}: unknown type '{f.type_text}'")
    if f.is_array and elem in ("bool", "records", "bytes"):
        raise SchemaError(f"{where}: arrays of {elem} are not supported")
    if f.versions.intersect(api.versions).empty():
        raise SchemaError(f"{where}: field {f.name} exists in no version of {api.name}")
    if f.nullable_type and not (f.is_array or elem in VARLEN):
        raise SchemaError(f"{where}: only strings, bytes, records and arrays can be nullable")
    if f.tag is not None:
        if not api.flexible.covers(f.versions.intersect(api.versions)):
            raise SchemaError(f"{where}: tagged field {f.name} must only exist in flexible versions")
        if f.tag < 0:
            raise SchemaError(f"{where}: negative tag")
    if f.default is not None:
        d = f.default
        if d == "null":
            if not f.nullable_type:
                raise SchemaError(f"{where}: default=null needs a nullable field")
        elif f.is_array or f.is_struct or elem in ("uuid", "records", "bytes"):
            raise SchemaError(f"{where}: {f.type_text} takes no default other than null")
        elif elem == "bool":
            if d not in ("true", "false"):
                raise SchemaError(f"{where}: bool default must be true or false")
        elif elem == "string":
            if d != '""':
                raise SchemaError(f'{where}: string defaults are "" or null')
        elif elem == "float64":
            float(d)
        else:
            try:
                v = int(d, 0)
            except ValueError:
                raise SchemaError(f"{where}: bad integer default '{d}'")
            bits = INT_BITS[elem]
            lo, hi = (0, 2**bits - 1) if elem.startswith("uint") else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
            if not lo <= v <= hi:
                raise SchemaError(f"{where}: default {d} out of range for {elem}")


# ---------------------------------------------------------------------------------------------
# C++ emission


def elem_cpp(f):
    e = f.elem
    if e in PRIMITIVES:
        return PRIMITIVES[e][0]
    if e in ("string", "bytes"):
        return "std::string"
    if e == "records":
        return "std::string_view"
    return f.struct.cname


def field_cpp(f):
    t = elem_cpp(f)
    if f.is_array:
        t = f"std::vector<{t}>"
    if f.nullable_type:
        t = f"std::optional<{t}>"
    return t


def int_literal(elem, v):
    bits = INT_BITS[elem]
    if not elem.startswith("uint") and v == -(2 ** (bits - 1)):
        return f"{-(2 ** (bits - 1)) + 1}{'LL' if bits == 64 else ''} - 1"
    if bits == 64:
        return f"{v}LL"
    return str(v)


def default_is_null(f):
    # Kafka's rule: nullable strings/arrays default to "" / [] unless default=null; records to null.
    return f.nullable_type and (f.default == "null" or f.elem == "records")


def member_init(f):
    if f.is_array or f.elem in VARLEN:
        if f.nullable_type and not default_is_null(f):
            return "{std::in_place}"
        return ""
    if f.is_struct or f.elem == "uuid":
        return ""
    if f.elem == "bool":
        return " = true" if f.default == "true" else " = false"
    if f.elem == "float64":
        return f" = {float(f.default) if f.default else 0.0}"
    v = int(f.default, 0) if f.default else 0
    return f" = {int_literal(f.elem, v)}"


def is_default_expr(f, x):
    if f.is_array or f.elem in VARLEN:
        if f.nullable_type:
            if default_is_null(f):
                return f"!{x}.has_value()"
            return f"({x}.has_value() && {x}->empty())"
        return f"{x}.empty()"
    if f.is_struct:
        return f"{x} == {f.struct.cname}{{}}"
    if f.elem == "uuid":
        return f"{x}.is_zero()"
    if f.elem == "bool":
        return x if f.default == "true" else f"!{x}"
    if f.elem == "float64":
        return f"{x} == {float(f.default) if f.default else 0.0}"
    v = int(f.default, 0) if f.default else 0
    return f"{x} == {int_literal(f.elem, v)}"


def min_size_expr(f, flex):
    """Smallest encoding of one value of f (or of one element, for arrays: elem=True)."""
    e = f.elem
    if f.is_array:
        return f"({flex} ? 1 : 4)"
    if e == "string":
        return f"({flex} ? 1 : 2)"
    if e in ("bytes", "records"):
        return f"({flex} ? 1 : 4)"
    if e in PRIMITIVES:
        return str(PRIMITIVES[e][1])
    return f"{f.struct.cname}::min_size(version)"


def elem_min_size_expr(f, flex):
    e = f.elem
    if e == "string":
        return f"({flex} ? 1 : 2)"
    if e in PRIMITIVES:
        return str(PRIMITIVES[e][1])
    return f"{f.struct.cname}::min_size(version)"


class Out:
    def __init__(self):
        self.lines = []
        self.depth = 0

    def __call__(self, line=""):
        self.lines.append(("  " * self.depth + line) if line else "")

    def indent(self):
        self.depth += 1

    def dedent(self):
        self.depth -= 1

    def text(self):
        return "\n".join(self.lines) + "\n"


def emit_struct_decl(o, msg, st, api, top):
    o(f"struct {st.cname} {{")
    o.indent()
    if top:
        for sub in msg.nested:
            emit_struct_decl(o, msg, sub, api, False)
            o()
        first_flex = api.flexible.lo if not api.flexible.empty() else -1
        o(f"static constexpr int16_t api_key = {api.key};")
        o(f"static constexpr int16_t min_version = {api.versions.lo};")
        o(f"static constexpr int16_t max_version = {api.versions.hi};")
        o(f"static constexpr int16_t first_flexible_version = {first_flex};  // -1: never flexible")
        o("static constexpr bool is_flexible(int16_t v) { return first_flexible_version >= 0 && v >= first_flexible_version; }")
        o()
    for f in st.fields:
        notes = [f"v{f.versions}"]
        if f.nullable_type:
            notes.append(f"nullable v{f.nullable}")
        if f.tag is not None:
            notes.append(f"tag {f.tag}")
        if f.ignorable:
            notes.append("ignorable")
        note = ", ".join(notes)
        if f.comment:
            note += "; " + f.comment
        o(f"{field_cpp(f)} {f.cname}{member_init(f)};  // {note}")
    if not api.flexible.empty():
        o("tagged_fields unknown_tags;  // tagged fields this codec does not know, kept for re-encoding")
    o()
    if top:
        o("// Decodes the body at `version`; failures (also an unsupported version) are reported by r.status().")
    o("void read(reader& r, int16_t version);")
    o("void write(writer& w, int16_t version) const;")
    if top:
        o("// Fails (errc::not_writable / unsupported_version) when write() at `version` would lose a")
        o("// non-ignorable value, write null into a non-nullable field or exceed a length limit.")
    o("::sluice::result<void> check_writable(int16_t version) const;")
    if not top:
        o("static size_t min_size(int16_t version);  // smallest encoding, bounds array counts before allocation")
    o(f"bool operator==(const {st.cname}&) const = default;")
    o.dedent()
    o("};")


def read_value(o, f, x, api, within, r, flex, version_nullable):
    """Statements reading field f into x from reader r (flex: C++ bool expression)."""
    e = f.elem
    label = f'"{f.cname}"'
    if f.is_array:
        o("{")
        o.indent()
        o(f"const int32_t n = {r}.read_array_length({flex}, {elem_min_size_expr(f, flex)});")
        o(f"if (n < 0) {{")
        o.indent()
        if f.nullable_type:
            o(f"if ({r}.ok()) {{")
            o.indent()
            o(f"if ({version_nullable}) {{")
            o(f"  {x}.reset();")
            o("} else {")
            o(f"  {r}.fail(errc::unexpected_null, {label});")
            o("}")
            o.dedent()
            o("}")
        else:
            o(f"if ({r}.ok()) {r}.fail(errc::unexpected_null, {label});")
        o.dedent()
        o("} else {")
        o.indent()
        vec = f"{x}.emplace()" if f.nullable_type else x
        o(f"auto& v = {vec};")
        o("v.resize(static_cast<size_t>(n));")
        o("for (auto& e : v) {")
        o.indent()
        if e in PRIMITIVES:
            o(f"e = {r}.read_{PRIMITIVES[e][2]}();")
        elif e == "string":
            o(f"{r}.read_string(e, {flex}, {label});")
        else:
            o(f"e.read({r}, version);")
        o(f"if (!{r}.ok()) break;")
        o.dedent()
        o("}")
        o.dedent()
        o("}")
        o.dedent()
        o("}")
    elif e in PRIMITIVES:
        o(f"{x} = {r}.read_{PRIMITIVES[e][2]}();")
    elif e in VARLEN:
        fn = {"string": "read_string", "bytes": "read_bytes", "records": "read_records"}[e]
        if f.nullable_type:
            o(f"{r}.{fn}({x}, {flex}, {version_nullable}, {label});")
        else:
            o(f"{r}.{fn}({x}, {flex}, {label});")
    else:
        o(f"{x}.read({r}, version);")


def write_value(o, f, x, w, flex):
    e = f.elem
    if f.is_array:
        if f.nullable_type:
            o(f"if (!{x}) {{")
            o(f"  {w}.write_null({flex}, false);")
            o("} else {")
            o.indent()
            seq = f"(*{x})"
        else:
            o("{")
            o.indent()
            seq = x
        o(f"{w}.write_array_length({seq}.size(), {flex});")
        o(f"for (const auto& e : {seq}) {{")
        o.indent()
        if e in PRIMITIVES:
            o(f"{w}.write_{PRIMITIVES[e][2]}(e);")
        elif e == "string":
            o(f"{w}.write_string(e, {flex});")
        else:
            o(f"e.write({w}, version);")
        o.dedent()
        o("}")
        o.dedent()
        o("}")
    elif e in PRIMITIVES:
        o(f"{w}.write_{PRIMITIVES[e][2]}({x});")
    elif e in VARLEN:
        fn = {"string": "write_string", "bytes": "write_bytes", "records": "write_records"}[e]
        o(f"{w}.{fn}({x}, {flex});")
    else:
        o(f"{x}.write({w}, version);")


def emit_struct_defs(o, msg, st, api, top):
    within = api.versions
    q = st.path
    flex_cond = api.flex_cond()
    flex_decl = f"[[maybe_unused]] const bool flex = {flex_cond};"
    plain = [f for f in st.fields if f.tag is None]
    tagged = sorted([f for f in st.fields if f.tag is not None], key=lambda f: f.tag)
    flexible_api = not api.flexible.empty()

    # read
    o(f"void {q}::read(reader& r, [[maybe_unused]] int16_t version) {{")
    o.indent()
    if top:
        o("if (version < min_version || version > max_version) {")
        o(f'  r.fail(errc::unsupported_version, "{api.name} {msg.kind} v" + std::to_string(version));')
        o("  return;")
        o("}")
    o(flex_decl)
    for f in plain:
        cond = f.versions.cond(within)
        nullable = f.nullable.cond(within) if f.nullable_type else "false"
        if cond != "true":
            o(f"if ({cond}) {{")
            o.indent()
        read_value(o, f, f.cname, api, within, "r", "flex", nullable)
        if cond != "true":
            o.dedent()
            o("}")
    if flexible_api:
        o("if (flex) {")
        o.indent()
        if tagged:
            o("r.read_tagged_fields(unknown_tags, [&](uint32_t tag, reader& tr) {")
            o.indent()
            o("switch (tag) {")
            o.indent()
            for f in tagged:
                o(f"case {f.tag}:")
                o.indent()
                cond = f.versions.cond(within)
                if cond != "true":
                    o(f"if (!({cond})) return false;")
                nullable = f.nullable.cond(within) if f.nullable_type else "false"
                read_value(o, f, f.cname, api, within, "tr", "true", nullable)
                o("return true;")
                o.dedent()
            o("default:")
            o("  return false;")
            o.dedent()
            o("}")
            o.dedent()
            o("});")
        else:
            o("r.read_tagged_fields(unknown_tags, [](uint32_t, reader&) { return false; });")
        o.dedent()
        o("}")
    o.dedent()
    o("}")
    o()

    # write
    o(f"void {q}::write(writer& w, [[maybe_unused]] int16_t version) const {{")
    o.indent()
    o(flex_decl)
    for f in plain:
        cond = f.versions.cond(within)
        if cond != "true":
            o(f"if ({cond}) {{")
            o.indent()
        write_value(o, f, f.cname, "w", "flex")
        if cond != "true":
            o.dedent()
            o("}")
    if flexible_api:
        o("if (flex) {")
        o.indent()
        for i, f in enumerate(tagged):
            cond = f.versions.cond(within)
            present = f"!({is_default_expr(f, f.cname)})"
            if cond != "true":
                present = f"({cond}) && {present}"
            o(f"const bool has_tag{i} = {present};")
        count = " + ".join(f"static_cast<size_t>(has_tag{i})" for i in range(len(tagged))) or "0"
        o(f"tag_section_writer tags(w, unknown_tags, {count});")
        for i, f in enumerate(tagged):
            o(f"if (has_tag{i}) {{")
            o.indent()
            o(f"tags.field({f.tag}, [&](writer& tw) {{")
            o.indent()
            write_value(o, f, f.cname, "tw", "true")
            o.dedent()
            o("});")
            o.dedent()
            o("}")
        o("tags.finish();")
        o.dedent()
        o("}")
    o.dedent()
    o("}")
    o()

    # check_writable
    o(f"::sluice::result<void> {q}::check_writable([[maybe_unused]] int16_t version) const {{")
    o.indent()
    if top:
        o("if (version < min_version || version > max_version) {")
        o(f'  return sluice::fail(errc::unsupported_version, "{api.name} {msg.kind} v" + std::to_string(version));')
        o("}")
    for f in st.fields:
        cond = f.versions.cond(within)
        label = f"{st.name}.{f.name}"
        checks = []  # (indent-free statement lines) when present
        if f.nullable_type and not f.nullable.covers(f.versions.intersect(within)):
            ncond = f.nullable.cond(within)
            checks.append(f"if (!({ncond}) && !{f.cname}) {{")
            checks.append(f'  return sluice::fail(errc::not_writable, "{label} is null at v" + std::to_string(version));')
            checks.append("}")
        ref = f"(*{f.cname})" if f.nullable_type else f.cname
        guard = f"{f.cname} && " if f.nullable_type else ""
        if f.elem == "string" and not f.is_array:
            checks.append(f"if ({guard}{ref}.size() > max_string_length) {{")
            checks.append(f'  return sluice::fail(errc::not_writable, "{label} is too long");')
            checks.append("}")
        if f.is_struct:
            if f.is_array:
                checks.append(f"if ({f.cname}) {{" if f.nullable_type else "{")
                checks.append(f"  for (const auto& e : {ref}) {{")
                checks.append("    SLUICE_TRY(e.check_writable(version));")
                checks.append("  }")
                checks.append("}")
            else:
                checks.append(f"SLUICE_TRY({f.cname}.check_writable(version));")
        absent = None
        if not f.ignorable and cond != "true":
            absent = [f"if (!({is_default_expr(f, f.cname)})) {{",
                      f'  return sluice::fail(errc::not_writable, "{label} is not supported at v" + std::to_string(version));',
                      "}"]
        if cond == "true":
            for line in checks:
                o(line)
        elif checks or absent:
            o(f"if ({cond}) {{" if checks else f"if (!({cond})) {{")
            o.indent()
            for line in (checks if checks else absent):
                o(line)
            o.dedent()
            if checks and absent:
                o("} else {")
                o.indent()
                for line in absent:
                    o(line)
                o.dedent()
            o("}")
    o("return sluice::ok();")
    o.dedent()
    o("}")
    o()

    if not top:
        o(f"size_t {q}::min_size([[maybe_unused]] int16_t version) {{")
        o.indent()
        o(flex_decl)
        o("size_t n = 0;")
        for f in plain:
            cond = f.versions.cond(within)
            expr = min_size_expr(f, "flex")
            if cond == "true":
                o(f"n += {expr};")
            else:
                o(f"if ({cond}) n += {expr};")
        if flexible_api:
            o("if (flex) n += 1;  // empty tagged-field section")
        o("return n;")
        o.dedent()
        o("}")
        o()


HEADER_PREAMBLE = "// Generated by src/kafka/protocol/gen/kgen.py from {src}. Do not edit.\n"


def emit_api_header(api, src):
    o = Out()
    o(HEADER_PREAMBLE.format(src=src).rstrip())
    o("#pragma once")
    for c in api.comment:
        o(f"// {c}")
    o("#include <cstddef>")
    o("#include <cstdint>")
    o("#include <optional>")
    o("#include <string>")
    o("#include <string_view>")
    o("#include <vector>")
    o()
    o('#include "base/result.h"')
    o('#include "kafka/protocol/wire.h"')
    o()
    o("namespace sluice::kafka::protocol {")
    o()
    for msg in (api.request, api.response):
        emit_struct_decl(o, msg, msg.root, api, True)
        o()
    first_flex = api.flexible.lo if not api.flexible.empty() else -1
    o(f"// {api.name} (key {api.key}): versions {api.versions}, flexible {api.flexible}.")
    o(f"struct {api.stem}_api {{")
    o.indent()
    o(f"using request = {api.request.cname};")
    o(f"using response = {api.response.cname};")
    o(f'static constexpr std::string_view name = "{api.name}";')
    o(f"static constexpr int16_t key = {api.key};")
    o(f"static constexpr int16_t min_version = {api.versions.lo};")
    o(f"static constexpr int16_t max_version = {api.versions.hi};")
    o(f"static constexpr int16_t first_flexible_version = {first_flex};  // -1: never flexible")
    o.dedent()
    o("};")
    o()
    o("}  // namespace sluice::kafka::protocol")
    return o.text()


def emit_api_source(api, src):
    o = Out()
    o(HEADER_PREAMBLE.format(src=src).rstrip())
    o(f'#include "kafka/protocol/messages/{api.stem}.h"')
    o()
    o("#include <string>")
    o()
    o("namespace sluice::kafka::protocol {")
    o()
    for msg in (api.request, api.response):
        for st in msg.nested:
            emit_struct_defs(o, msg, st, api, False)
        emit_struct_defs(o, msg, msg.root, api, True)
    o("}  // namespace sluice::kafka::protocol")
    return o.text()


def emit_all_header(apis):
    o = Out()
    o("// Generated by src/kafka/protocol/gen/kgen.py. Do not edit.")
    o("#pragma once")
    o("// Every generated API, and compile-time iteration over them (tests, fuzzers, registries).")
    for api in apis:
        o(f'#include "kafka/protocol/messages/{api.stem}.h"')
    o()
    o("namespace sluice::kafka::protocol {")
    o()
    o("// Calls f.template operator()<X_api>() for the API with this key; false for an unknown key.")
    o("template <class F>")
    o("bool visit_api(int16_t key, F&& f) {")
    o.indent()
    o("switch (key) {")
    o.indent()
    for api in apis:
        o(f"case {api.key}:")
        o(f"  f.template operator()<{api.stem}_api>();")
        o("  return true;")
    o("default:")
    o("  return false;")
    o.dedent()
    o("}")
    o.dedent()
    o("}")
    o()
    o("// Calls f.template operator()<X_api>() for every API, by ascending key.")
    o("template <class F>")
    o("void for_each_api(F&& f) {")
    o.indent()
    for api in apis:
        o(f"f.template operator()<{api.stem}_api>();")
    o.dedent()
    o("}")
    o()
    o("}  // namespace sluice::kafka::protocol")
    return o.text()


def emit_api_table(apis):
    h = Out()
    h("// Generated by src/kafka/protocol/gen/kgen.py. Do not edit.")
    h("#pragma once")
    h("// The APIs the generated codecs implement: the broker's registry intersects this with its")
    h("// handlers to answer ApiVersions, and the frame decoder uses it to pick header versions.")
    h("#include <cstdint>")
    h("#include <span>")
    h("#include <string_view>")
    h()
    h("namespace sluice::kafka::protocol {")
    h()
    h("enum class api_key : int16_t {")
    for api in apis:
        h(f"  {api.stem} = {api.key},")
    h("};")
    h()
    h("struct api_info {")
    h("  api_key key;")
    h("  std::string_view name;")
    h("  int16_t min_version;")
    h("  int16_t max_version;")
    h("  int16_t first_flexible_version;  // -1: never flexible")
    h("};")
    h()
    h("// Every API with a codec, by ascending key.")
    h("std::span<const api_info> codec_apis();")
    h("// nullptr for a key without a codec.")
    h("const api_info* find_api(int16_t key);")
    h()
    h("// Request header version for (key, version): 2 for flexible versions, else 1 (0 is only for")
    h("// ControlledShutdown v0, which has no codec here). Versions above the codec's max follow the")
    h("// flexible rule too, so an ApiVersions request from a newer client still parses (KIP-511);")
    h("// unknown keys get 1, enough to read the correlation id.")
    h("int request_header_version(int16_t key, int16_t version);")
    h("// Response header version: 1 for flexible versions, else 0; always 0 for ApiVersions (KIP-511).")
    h("int response_header_version(int16_t key, int16_t version);")
    h()
    h("}  // namespace sluice::kafka::protocol")

    c = Out()
    c("// Generated by src/kafka/protocol/gen/kgen.py. Do not edit.")
    c('#include "kafka/protocol/api_table.h"')
    c()
    c("#include <algorithm>")
    c("#include <array>")
    c()
    c("namespace sluice::kafka::protocol {")
    c()
    c("namespace {")
    c(f"constexpr std::array<api_info, {len(apis)}> kApis = {{{{")
    for api in sorted(apis, key=lambda a: a.key):
        first_flex = api.flexible.lo if not api.flexible.empty() else -1
        c(f'    {{api_key::{api.stem}, "{api.name}", {api.versions.lo}, {api.versions.hi}, {first_flex}}},')
    c("}};")
    c("}  // namespace")
    c()
    c("std::span<const api_info> codec_apis() { return kApis; }")
    c()
    c("const api_info* find_api(int16_t key) {")
    c("  auto it = std::lower_bound(kApis.begin(), kApis.end(), key,")
    c("                             [](const api_info& a, int16_t k) { return static_cast<int16_t>(a.key) < k; });")
    c("  if (it == kApis.end() || static_cast<int16_t>(it->key) != key) return nullptr;")
    c("  return &*it;")
    c("}")
    c()
    c("int request_header_version(int16_t key, int16_t version) {")
    c("  const api_info* a = find_api(key);")
    c("  if (!a) return 1;")
    c("  return a->first_flexible_version >= 0 && version >= a->first_flexible_version ? 2 : 1;")
    c("}")
    c()
    c("int response_header_version(int16_t key, int16_t version) {")
    c("  if (key == static_cast<int16_t>(api_key::api_versions)) return 0;")
    c("  const api_info* a = find_api(key);")
    c("  if (!a) return 0;")
    c("  return a->first_flexible_version >= 0 && version >= a->first_flexible_version ? 1 : 0;")
    c("}")
    c()
    c("}  // namespace sluice::kafka::protocol")
    return h.text(), c.text()


def emit_fill(o, msg, st, api):
    within = api.versions
    o(f"[[maybe_unused]] void fill({st.path}& m, [[maybe_unused]] int16_t version, [[maybe_unused]] uint32_t seed) {{")
    o.indent()
    for k, f in enumerate(st.fields, 1):
        cond = f.versions.cond(within)
        if cond != "true":
            o(f"if ({cond}) {{")
            o.indent()
        x = f"m.{f.cname}"
        null_cond = f.nullable.cond(within) if f.nullable_type else "false"
        if f.nullable_type:
            o(f"if (({null_cond}) && seed % 4 == 3) {{")
            o(f"  {x}.reset();")
            o("} else {")
            o.indent()
            target = f"{x}.emplace()"
        else:
            o("{")
            o.indent()
            target = x
        if f.is_array:
            o(f"auto& v = {target};")
            o("v.clear();")
            o(f"const uint32_t count = seed % 4 == 3 ? 0 : 1 + (seed + {k}) % 2;")
            o("for (uint32_t i = 0; i < count; ++i) {")
            o.indent()
            o(f"const uint32_t s = seed * 3 + i + {k};")
            o("v.emplace_back();")
            sample_value(o, f, "v.back()", "s", k)
            o.dedent()
            o("}")
        else:
            o(f"auto& v = {target};")
            sample_value(o, f, "v", "seed", k)
        o.dedent()
        o("}")
        if cond != "true":
            o.dedent()
            o("}")
    o.dedent()
    o("}")
    o()


def sample_value(o, f, x, s, k):
    e = f.elem
    if e in INT_BITS:
        o(f"{x} = static_cast<{PRIMITIVES[e][0]}>({s} * 2654435761u + {k});")
    elif e == "bool":
        o(f"{x} = ({s} + {k}) % 2 == 1;")
    elif e == "float64":
        o(f"{x} = {s} * 0.25 + {k};")
    elif e == "uuid":
        o(f"for (size_t b = 0; b < {x}.bytes.size(); ++b) {x}.bytes[b] = static_cast<uint8_t>({s} + b * {k});")
    elif e == "string":
        o(f'{x} = "{f.cname}-" + std::to_string({s});')
    elif e == "bytes":
        o(f'{x} = std::string("\\0\\xff", 2) + std::to_string({s} * {k});')
    elif e == "records":
        o(f"{x} = kSampleRecords.substr(0, ({s} + {k}) % kSampleRecords.size());")
    else:
        o(f"fill({x}, version, {s});")


def emit_samples(apis):
    h = Out()
    h("// Generated by src/kafka/protocol/gen/kgen.py. Do not edit.")
    h("#pragma once")
    h("// fill_sample(): a message with every field of `version` set to a value derived from `seed`")
    h("// (nullable fields null when seed % 4 == 3). For round-trip tests and fuzz seeds only; records")
    h("// views point to static storage.")
    h('#include "kafka/protocol/messages/all.h"')
    h()
    h("namespace sluice::kafka::protocol {")
    h()
    for api in apis:
        for msg in (api.request, api.response):
            h(f"void fill_sample({msg.cname}& m, int16_t version, uint32_t seed);")
    h()
    h("}  // namespace sluice::kafka::protocol")

    c = Out()
    c("// Generated by src/kafka/protocol/gen/kgen.py. Do not edit.")
    c('#include "kafka/protocol/messages/samples.h"')
    c()
    c("#include <string>")
    c("#include <string_view>")
    c()
    c("namespace sluice::kafka::protocol {")
    c()
    c("namespace {")
    c()
    c('constexpr std::string_view kSampleRecords("\\0\\1\\2records\\xfe\\xff", 12);')
    c()
    for api in apis:
        for msg in (api.request, api.response):
            for st in msg.nested:
                emit_fill(c, msg, st, api)
            emit_fill(c, msg, msg.root, api)
    c("}  // namespace")
    c()
    for api in apis:
        for msg in (api.request, api.response):
            c(f"void fill_sample({msg.cname}& m, int16_t version, uint32_t seed) {{ fill(m, version, seed); }}")
    c()
    c("}  // namespace sluice::kafka::protocol")
    return h.text(), c.text()


def write_if_changed(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        with open(path, encoding="utf-8") as fh:
            if fh.read() == text:
                return
    except FileNotFoundError:
        pass
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="output root (gets kafka/protocol/...)")
    ap.add_argument("--list-outputs", action="store_true", help="print the files that would be written")
    ap.add_argument("schemas", nargs="+")
    args = ap.parse_args(argv)
    try:
        apis = [parse_schema(p) for p in args.schemas]
    except SchemaError as e:
        print(f"kgen: {e}", file=sys.stderr)
        return 1
    keys = {}
    for api in apis:
        if api.key in keys:
            print(f"kgen: {api.path}: key {api.key} already used by {keys[api.key].path}", file=sys.stderr)
            return 1
        keys[api.key] = api
        stem = os.path.splitext(os.path.basename(api.path))[0]
        if stem != api.stem:
            print(f"kgen: {api.path}: file must be named {api.stem}.kmsg", file=sys.stderr)
            return 1
    apis.sort(key=lambda a: a.key)
    base = os.path.join(args.out, "kafka", "protocol")
    outputs = {}
    for api in apis:
        src = "src/kafka/protocol/schema/" + os.path.basename(api.path)
        outputs[os.path.join(base, "messages", api.stem + ".h")] = emit_api_header(api, src)
        outputs[os.path.join(base, "messages", api.stem + ".cc")] = emit_api_source(api, src)
    outputs[os.path.join(base, "messages", "all.h")] = emit_all_header(apis)
    th, tc = emit_api_table(apis)
    outputs[os.path.join(base, "api_table.h")] = th
    outputs[os.path.join(base, "api_table.cc")] = tc
    sh, sc = emit_samples(apis)
    outputs[os.path.join(base, "messages", "samples.h")] = sh
    outputs[os.path.join(base, "messages", "samples.cc")] = sc
    if args.list_outputs:
        print("\n".join(sorted(outputs)))
        return 0
    for path, text in outputs.items():
        write_if_changed(path, text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
