"""The watchdog's research tools: the subcommands `watchdog.py record`,
`replay`, `export` and `sweep`, behind one entry point, run().

    recorder   `record`: one record per read-family call of the targets
    recording  the recording file format (Writer, Recording, export)
    replay     limiter.h's fixed window, offline, over a recording
    offline    `replay` and `export`
    corpus     a sweep corpus (TOML), one run of a program, Progress
    sweep      `sweep`: record a corpus under one attach, replay the grid
    verify     `sweep --verify`: each program unrestricted and enforced
    plots      the sweep's PNG plots (matplotlib)

These modules use the runtime package (ethoswd.cli, report, probe,
session, ...); the runtime never imports them, except ethoswd/main.py,
which calls run() for these four first words only.
"""


def run(argv, launched=None):
    """Run subcommand argv[0] ("record", "replay", "export" or "sweep")
    with the rest of argv; its exit status."""
    if argv[0] == "record":
        from .recorder import main
        return main(argv[1:], launched)
    if argv[0] == "sweep":
        from .sweep import main
        return main(argv[1:], launched)
    from .offline import main
    return main(argv, launched)
