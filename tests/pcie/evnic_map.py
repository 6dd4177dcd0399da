"""The evnic register map, event format and shell layout, read from the JSON that the
`evnic-regs` crate writes (`gen-docs --json`): the test never writes an offset of its own."""

import json
import os


class Map:
    def __init__(self, path=None):
        path = path or os.environ["EVNIC_REGISTERS_JSON"]
        with open(path) as f:
            self.doc = json.load(f)
        self.params = self.doc["params"]
        self.shell = self.doc["shell"]
        self.group = self.doc["group"]
        self.filter = self.doc["filter"]
        self.event = self.doc["event"]
        self.desc = self.doc["desc"]
        self.rings = self.doc["rings"]
        self._pages = {p["name"]: p for p in self.doc["pages"]}

    def page(self, name):
        return self._pages[name]

    def _reg(self, page, name):
        p = self.page(page)
        for r in p["regs"]:
            if r["name"] == name:
                return p, r
        raise KeyError(f"no register {name} in page {page}")

    def reg(self, page, name, index=0):
        """BAR0 offset of register `name` in copy `index` of `page`."""
        p, r = self._reg(page, name)
        assert 0 <= index < p["count"], f"{page} has {p['count']} copies"
        return p["base"] + index * p["stride"] + r["offset"]

    def permit(self, vi, group):
        """BAR0 offset of the permission word of VI `vi` that holds group `group`'s bit."""
        word = vi * self.group["PERMIT_WORDS"] + group // 32
        return self.reg("indication permissions", "PERMIT", word)

    def reset(self, page, name):
        return self._reg(page, name)[1]["reset"]

    def field(self, page, name, field):
        for f in self._reg(page, name)[1]["fields"]:
            if f["name"] == field:
                return f["lsb"], f["width"]
        raise KeyError(f"no field {field} in {page}.{name}")

    def put(self, page, name, **fields):
        """A register value with the given fields set."""
        v = 0
        for k, val in fields.items():
            lsb, width = self.field(page, name, k)
            assert 0 <= val < (1 << width), f"{k}={val} does not fit {width} bits"
            v |= val << lsb
        return v

    def get(self, page, name, field, value):
        lsb, width = self.field(page, name, field)
        return (value >> lsb) & ((1 << width) - 1)

    # Regs by page, shorthand.
    def glob(self, name):
        return self.reg("global", name)

    def vi(self, vi, name):
        return self.reg("VI", name, vi)

    def sh(self, name):
        return self.reg("PCIe shell", name)

    def action_vi(self, vi):
        f = self.filter
        return (f["ACTION_KIND_VI"] << f["ACTION_KIND_SHIFT"]) | (vi & f["ACTION_TARGET_MASK"])

    def event_type(self, name):
        return self.event["types"][name]

    def error_code(self, name):
        return self.event["error_codes"][name]

    def decode_event(self, raw):
        """The fields of a 16-byte event record, by name."""
        words = [int.from_bytes(raw[0:8], "little"), int.from_bytes(raw[8:16], "little")]
        out = {}
        for name, f in self.event["fields"].items():
            out[name] = (words[f["word"]] >> f["lsb"]) & ((1 << f["width"]) - 1)
        return out

    def desc_word1(self, **fields):
        v = 0
        for k, val in fields.items():
            f = self.desc["fields"][k]
            assert f["word"] == 1
            assert 0 <= val < (1 << f["width"])
            v |= val << f["lsb"]
        return v
