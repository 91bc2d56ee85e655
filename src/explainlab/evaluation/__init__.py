"""The report card of explanation methods over a whole dataset (``explainlab evaluate``).

The data flows one way, one module per step: :mod:`~explainlab.evaluation.dataset` reads
the images (a folder, an ImageFolder tree, a CSV with labels and boxes or masks) into
:class:`~explainlab.evaluation.dataset.Item` records; :mod:`~explainlab.evaluation.shard`
evaluates an explicit list of items as one *shard*, batch by batch, each batch's
per-image results written atomically into the shard's folder (a rerun resumes from the
last finished batch, a finished shard is skipped); :mod:`~explainlab.evaluation.merge` reads
every shard's files back into the per-image tables; :mod:`~explainlab.evaluation.card`
computes the statistics of the report card; :mod:`~explainlab.evaluation.figures` and
:mod:`~explainlab.evaluation.report` draw and print it; :mod:`~explainlab.evaluation.run`
ties them together (:func:`~explainlab.evaluation.run.evaluate`, ``xl.evaluate``).

A scheduler that runs shards elsewhere (Ray) calls
:func:`~explainlab.evaluation.shard.evaluate_shard` on each of
:func:`~explainlab.evaluation.shard.split` 's lists, then
:func:`~explainlab.evaluation.merge.merge_shards` on their folders."""
