"""Network dissection with CLIP-Dissect (Oikarinen & Weng, ICLR 2023), and its analysis.

The flow: probe images (``probes``) -> layer activations (``activations``) and CLIP
features (``clip_features``), cached (``cache``) -> a units x concepts similarity
(``similarity``) -> each unit's label (``describe``), written by the stage (``run``);
then tables (``tables``, ``categories``), the label stability of several runs
(``stability``), figures (``figures``, ``montage``) and a summary (``summary``) from any
descriptions.csv (``analysis``)."""
