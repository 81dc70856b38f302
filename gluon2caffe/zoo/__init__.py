"""The GluonCV model zoo as the CLI and the tests see it: the catalog (catalog.py: every zoo name, its task, family
and input, or why it cannot be a Caffe model), the loader (loader.py: random live weights or trained ones), the
shipped traced graphs (graphs.py) and live random weights (randomize.py). The developers' sweep behind `gluon2caffe
zoo` and its reports (sweep.py, report.py, runtimes_table.py, child_forward.py) use them. The library (api, the
conversion core, verification) never imports this package."""
