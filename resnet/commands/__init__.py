"""One module per ``resnet-bench`` sub-command (as asv's ``commands/``): each holds its
``HELP`` line, ``add_arguments(parser)`` on the shared option groups of
:mod:`resnet.commands.common`, and ``run(args) -> exit code``, calling into the analysis,
the runs and the store. :data:`COMMANDS` lists them in the order ``--help`` shows them;
``resnet.cli`` only builds the parser from it and dispatches."""

#: Sub-command name -> its module under resnet.commands.
COMMANDS = {
    "report": "report",
    "compare": "compare",
    "ab": "ab",
    "machines": "machines",
    "dashboard": "dashboard",
    "history": "history",
    "make-data": "make_data",
    "machine": "machine",
    "index": "index",
    "export": "export",
    "options": "options",
    "store": "store",
    "versions": "versions",
}
