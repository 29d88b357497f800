"""Pure renderers, one module per reader of what they write; strings in, strings out, no I/O.

- ``summary``: the Markdown job summary a person reads on GitHub (and in ``cortex-action.md``);
- ``outputs``: what later steps and jobs read: step outputs, result variables, the JSON result;
- ``result_files``: the files GitLab, Jenkins and local runs keep (variables, JSON, JUnit...);
- ``terminal``: what a person reads in a terminal or a CI log: ``get``'s block, ``list``'s table.
"""
