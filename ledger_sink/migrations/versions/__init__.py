"""One module per migration, named ``<revision>_<slug>.py``; revisions are UTC timestamps."""
