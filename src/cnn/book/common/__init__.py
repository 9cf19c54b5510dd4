"""The book's ``common`` package on cnn-ext: ``layers``, ``functions``, ``gradient``, ``util``,
``optimizer``, ``trainer``, ``multi_layer_net`` and ``multi_layer_net_extend``, with the
book's names, signatures and arithmetic. ``python -m cnn.book SCRIPT`` makes a book program's
``import common.layers`` (and the others) resolve to these modules."""

