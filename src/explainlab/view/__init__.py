"""``explainlab view``: the run folder as static HTML pages, opened from the file system.

    collect:   explanations.py (images, maps, LIME superpixels, per-image numbers),
               measures.py (tables and figures), dissection.py (a card per unit),
               sections.py (what packages add: the assignment's LIME pickle; the manifest)
    write:     thumbs.py (images as WebP at the size shown), build.py (view/index.html,
               its static files and data.js, the model the page reads)
    use:       stage.py (the run's last stage), cli.py, serve.py (127.0.0.1, for large runs)

The page is vanilla JavaScript (static/), no library and no network: the data is a
script setting a global, since browsers refuse fetch() of files under file://."""
