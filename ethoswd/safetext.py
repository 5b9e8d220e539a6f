"""Safe text: the one place process-controlled strings become output text.

Any process can give itself any name of up to 15 bytes (prctl PR_SET_NAME),
so a name may hold terminal escape sequences, line breaks or invalid UTF-8.
Every text output (table, LIMIT/CLEAR/EXIT/WARN lines, summary,
--probe-features, error and status lines, and any later output or recording
file) goes through this module:

- name_fields(raw): decode a name from the kernel's raw bytes into the row
  fields: "comm" (UTF-8, invalid bytes as U+FFFD) and, when the name is not
  clean printable UTF-8, "comm_hex" (the raw bytes in hex) so JSON keeps
  them exactly.
- escape(value): a name as printable ASCII.  Bytes 0x20-0x7e stay, except
  the backslash, shown as \\\\; \\n \\r \\t are shown so; every other byte
  (control bytes, DEL, every byte of non-ASCII UTF-8, invalid UTF-8) is
  shown as \\xHH.  One character per column, so widths are plain len().
- cell(value, width): escape(), then padded or cut to exactly `width`
  columns.  A cut never splits an escape: it ends after a whole unit and
  the cell ends in CUT ("+").
- one_line(text): a whole line the watchdog composed: non-printable
  characters (line breaks, ESC, DEL, C1, bidi controls...) shown escaped
  so the line stays one line; printable text, backslashes included, stays.
"""

CUT = "+"
_SHORT = {0x5C: "\\\\", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}
_UNITS = [_SHORT.get(b, chr(b) if 0x20 <= b < 0x7F else "\\x%02x" % b)
          for b in range(256)]


def name_bytes(raw):
    """The bytes of a kernel name (a ctypes char array, bytes or str) up to
    the first NUL."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    return bytes(raw).split(b"\0", 1)[0]


def name_fields(raw, key="comm"):
    """{key: decoded text} plus {key + "_hex": hex} when the raw name is not
    clean printable UTF-8."""
    raw = name_bytes(raw)
    text = raw.decode("utf-8", "replace")
    fields = {key: text}
    if not text.isprintable() or text.encode() != raw:
        fields[key + "_hex"] = raw.hex()
    return fields


def raw_name(row, key="comm"):
    """The exact bytes of a row's name: from key_hex when present."""
    if key + "_hex" in row:
        return bytes.fromhex(row[key + "_hex"])
    return name_bytes(row[key])


def _units(value):
    return [_UNITS[b] for b in name_bytes(value)] if value else []


def escape(value):
    """bytes or str -> printable ASCII, as described in the module doc."""
    return "".join(_units(value))


def cell(value, width):
    """escape(value) padded, or cut after whole escapes and ended with CUT,
    to exactly `width` columns."""
    units = _units(value)
    text = "".join(units)
    if len(text) > width:
        kept, used = [], 0
        for u in units:
            if used + len(u) > width - len(CUT):
                break
            kept.append(u)
            used += len(u)
        text = "".join(kept) + CUT
    return text.ljust(width)


def _char(ch):
    code = ord(ch)
    if code in _SHORT and code != 0x5C:
        return _SHORT[code]
    if 0xDC80 <= code <= 0xDCFF:    # a raw byte kept by surrogateescape
        return "\\x%02x" % (code - 0xDC00)
    if code < 0x100:
        return "\\x%02x" % code
    return "\\u%04x" % code if code < 0x10000 else "\\U%08x" % code


def one_line(text):
    """A composed line with every non-printable character escaped."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _char(ch) for ch in text)
