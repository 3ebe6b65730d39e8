"""`sentinel import`: a bank's transaction history, in any column layout, as a training set.

A mapping file (``mapping``) says where each contract field comes from; rows are read in
batches (``source``), parsed (``values``), turned into ``Transaction`` records and checked by
the live path's own definition (``rows``), and written as a ``fraudsim.tables`` data set with
a rejection report and an ``import.json`` saying what was imported (``run``). Nothing heavy
is imported here: ``sentinel``'s start-up registers the command (``cli``) without pyarrow.
"""
