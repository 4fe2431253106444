"""``%mos``: ``status`` (engine, output, position, score), ``doctor`` (what is alive and who
owns it), ``stop``, ``output browser|local|null``."""

from __future__ import annotations

from IPython.core.magic import Magics, line_magic, magics_class

from mos_lab.kernel._singleton import session

USAGE = "usage: %mos status | doctor | stop | output browser|local|null"


def format_status() -> str:
    st = session().status()
    lines = [f"state     {st['state']}", f"output    {st['output_kind']} ({st['output']}: "
             f"{st['output_state']})", f"position  {st['position']:.2f} s  tempo x{st['tempo']}",
             f"score     {st['score'] or '(none loaded)'}"]
    if st.get("loop"):
        lines.append(f"loop      {st['loop'][0]:.2f}-{st['loop'][1]:.2f} s")
    if st.get("browser"):
        b = st["browser"]
        audio = "enabled" if b["unlocked"] else "waiting for a click (enable audio)"
        lines.append(f"browser   audio {audio}; played {b['frames_acked']} of "
                     f"{b['frames_sent']} frames sent, {b['browser_underruns']} underruns")
    if st.get("output_error"):
        lines.append(f"error     {st['output_error']}")
    return "\n".join(lines)


def format_doctor() -> str:
    """Counts by kind, then one line per owner with what it holds."""
    s = session()
    counts = s.doctor()
    lines = ["  ".join(f"{k} {v}" for k, v in counts.items())]
    by_owner: dict[str, dict[str, list[str]]] = {}
    for kind, name, owner in s.inventory():
        by_owner.setdefault(owner, {}).setdefault(kind, []).append(name)
    for owner, kinds in by_owner.items():
        parts = []
        for kind, names in kinds.items():
            if kind == "widgets":
                continue
            shown = names if kind in ("threads", "streams") else []
            parts.append(f"{kind} {len(names)}" + (f" ({', '.join(shown)})" if shown else ""))
        lines.append(f"  {owner:<22} {'; '.join(parts) or '-'}")
    return "\n".join(lines)


@magics_class
class MosMagics(Magics):
    """The ``%mos`` line magic."""

    @line_magic
    def mos(self, line: str) -> None:
        args = line.split()
        cmd = args[0] if args else "status"
        if cmd == "status":
            print(format_status())
        elif cmd == "doctor":
            print(format_doctor())
        elif cmd == "stop":
            session().stop()
            print("stopped")
        elif cmd == "output" and len(args) == 2:
            session().output = args[1]
            print(f"output: {session().output}")
        else:
            print(USAGE)
