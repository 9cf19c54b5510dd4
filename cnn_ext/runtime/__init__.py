"""What the kernels run on: their threads (``threads``, sized by ``cores``), the BLAS held to
one thread (``blas``, ``nesting``), the cache of freed array memory (``memory``) and
per-thread scratch buffers (``workspace``)."""
