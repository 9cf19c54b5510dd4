"""A caching memory handler for NumPy arrays (NumPy's NEP 49).

A training step frees and allocates the same activation arrays, step after
step. Arrays of a few MB come straight from the operating system (mmap), so
each fresh one costs a page fault per 4 KiB touched, more than the layer's
arithmetic on it. Inside ``cached_allocations()`` NumPy takes array memory
from this handler, which keeps freed blocks of 64 KiB to ``LARGEST_CACHED_BLOCK``,
up to ``CACHE_BYTES`` in all, and hands them out again for an array of the same size.
Smaller blocks, and any block the cache has no room for, go to ``malloc``/``free``.

The handler is set per context (NumPy keeps it in a context variable), so it
affects only the code inside the ``with`` block; an array remembers its
handler and is freed through it wherever it dies. The cache keeps blocks only
while some thread is inside such a block: when the last one ends, every cached
block goes back to the system, and a block freed after that is freed at once.
Around a ``fork`` the cache's lock is held (by ``pthread_atfork`` handlers,
which run inside ``fork()`` itself), so the child gets a consistent cache and
a free lock.
"""

from contextlib import contextmanager

from cnn_ext.runtime.nesting import NestedSetting

from cpython.pycapsule cimport PyCapsule_New
from cpython.pythread cimport (PyThread_acquire_lock, PyThread_allocate_lock,
                               PyThread_release_lock, PyThread_type_lock, WAIT_LOCK)
from libc.stdint cimport uint8_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memset, strncpy

cdef extern from "numpy/arrayobject.h":
    ctypedef struct PyDataMemAllocator:
        void *ctx
        void *(*malloc)(void *ctx, size_t size) noexcept nogil
        void *(*calloc)(void *ctx, size_t nelem, size_t elsize) noexcept nogil
        void *(*realloc)(void *ctx, void *ptr, size_t new_size) noexcept nogil
        void (*free)(void *ctx, void *ptr, size_t size) noexcept nogil

    ctypedef struct PyDataMem_Handler:
        char name[127]
        uint8_t version
        PyDataMemAllocator allocator

    object PyDataMem_SetHandler(object handler)
    int _import_array() except -1

_import_array()

cdef enum:
    # Blocks below this size are cheap to get from malloc; above, they are mmapped afresh.
    MIN_CACHED_BYTES = 65536
    SLOTS = 64

cdef size_t cache_limit = 128 * 1024 * 1024
CACHE_BYTES = cache_limit  # the most the cache holds, in bytes
# Larger blocks are not kept: a training step's activations fit (up to 5 MB in DeepConvNet at
# batch 100, 14 MB in a float64 SimpleConvNet, whose step took 36.6 ms with a limit of 8 MiB),
# while keeping the 50 MB maps of a prediction at batch 1000 more than doubled the memory it
# needed (215 MB against 98 MB, measured) for 10 to 20% of its time.
cdef size_t block_limit = 16 * 1024 * 1024
LARGEST_CACHED_BLOCK = block_limit

cdef void *slot_pointer[SLOTS]
cdef size_t slot_size[SLOTS]
cdef size_t cached_bytes = 0
cdef size_t cached_peak = 0  # the most cached_bytes has been since the last reset
cdef Py_ssize_t next_victim = 0
cdef bint caching = False  # some thread is inside cached_allocations()
cdef PyThread_type_lock cache_lock = PyThread_allocate_lock()

cdef extern from *:
    """
    #ifdef _WIN32
    /* No fork on Windows: nothing to guard. */
    static int cnn_ext_at_fork(void (*prepare)(void), void (*parent)(void), void (*child)(void)) {
        (void)prepare; (void)parent; (void)child;
        return 0;
    }
    #else
    #include <pthread.h>
    #define cnn_ext_at_fork pthread_atfork
    #endif
    """
    int cnn_ext_at_fork(void (*prepare)() noexcept nogil, void (*parent)() noexcept nogil,
                        void (*child)() noexcept nogil)


cdef void hold_lock_for_fork() noexcept nogil:
    # Run by fork() itself, after every Python fork handler and with the GIL held: nothing here
    # can let go of the GIL (a Python handler between acquiring and releasing could, and a thread
    # waiting for this lock may hold the GIL), and a thread that holds the lock never waits for
    # the GIL, so it finishes and lets go.
    PyThread_acquire_lock(cache_lock, WAIT_LOCK)


cdef void release_lock_after_fork() noexcept nogil:
    PyThread_release_lock(cache_lock)


# Held across fork: the child gets a cache no thread was in the middle of changing, and a free lock.
cnn_ext_at_fork(hold_lock_for_fork, release_lock_after_fork, release_lock_after_fork)


cdef void *take_cached(size_t size) noexcept nogil:
    """A cached block of exactly ``size`` bytes, removed from the cache, or NULL."""
    global cached_bytes
    cdef void *pointer = NULL
    cdef Py_ssize_t slot
    PyThread_acquire_lock(cache_lock, WAIT_LOCK)
    for slot in range(SLOTS):
        if slot_pointer[slot] != NULL and slot_size[slot] == size:
            pointer = slot_pointer[slot]
            slot_pointer[slot] = NULL
            cached_bytes -= size
            break
    PyThread_release_lock(cache_lock)
    return pointer


cdef void *cache_malloc(void *ctx, size_t size) noexcept nogil:
    cdef void *pointer = NULL
    if size >= MIN_CACHED_BYTES:
        pointer = take_cached(size)
    return pointer if pointer != NULL else malloc(size)


cdef void *cache_calloc(void *ctx, size_t nelem, size_t elsize) noexcept nogil:
    cdef void *pointer = NULL
    cdef size_t size
    if elsize != 0 and nelem <= (<size_t>-1) // elsize:
        size = nelem * elsize
        if size >= MIN_CACHED_BYTES:
            pointer = take_cached(size)
            if pointer != NULL:
                memset(pointer, 0, size)
                return pointer
    return calloc(nelem, elsize)


cdef void *cache_realloc(void *ctx, void *pointer, size_t new_size) noexcept nogil:
    return realloc(pointer, new_size)


cdef void evict(Py_ssize_t slot) noexcept nogil:
    """Free the block in ``slot``; the caller holds the lock."""
    global cached_bytes
    if slot_pointer[slot] != NULL:
        free(slot_pointer[slot])
        slot_pointer[slot] = NULL
        cached_bytes -= slot_size[slot]


cdef void cache_free(void *ctx, void *pointer, size_t size) noexcept nogil:
    """Keep a large block for reuse; when the cache is full, older blocks make room."""
    global cached_bytes, cached_peak, next_victim
    cdef Py_ssize_t slot, free_slot = -1
    if pointer == NULL:
        return
    if size < MIN_CACHED_BYTES or size > block_limit:
        free(pointer)
        return
    PyThread_acquire_lock(cache_lock, WAIT_LOCK)
    if not caching:
        PyThread_release_lock(cache_lock)
        free(pointer)
        return
    for slot in range(SLOTS):
        if slot_pointer[slot] == NULL:
            free_slot = slot
            break
    if free_slot < 0:
        free_slot = next_victim
        next_victim = (next_victim + 1) % SLOTS
        evict(free_slot)
    slot = 0
    while cached_bytes + size > cache_limit and slot < SLOTS:
        evict(slot)
        slot += 1
    if cached_bytes + size > cache_limit:  # larger than the whole cache: nothing can hold it
        PyThread_release_lock(cache_lock)
        free(pointer)
        return
    slot_pointer[free_slot] = pointer
    slot_size[free_slot] = size
    cached_bytes += size
    if cached_bytes > cached_peak:
        cached_peak = cached_bytes
    PyThread_release_lock(cache_lock)


cdef PyDataMem_Handler handler
strncpy(handler.name, b"cnn_ext_cache", 127)
handler.version = 1
handler.allocator.ctx = NULL
handler.allocator.malloc = cache_malloc
handler.allocator.calloc = cache_calloc
handler.allocator.realloc = cache_realloc
handler.allocator.free = cache_free

_handler_capsule = PyCapsule_New(&handler, b"mem_handler", NULL)


def release_cached_memory() -> int:
    """Give every cached block back to the system; return how many bytes that was."""
    cdef Py_ssize_t slot
    cdef size_t released
    with nogil:
        PyThread_acquire_lock(cache_lock, WAIT_LOCK)
        released = cached_bytes
        for slot in range(SLOTS):
            evict(slot)
        PyThread_release_lock(cache_lock)
    return released


def _set_caching(bint on):
    global caching
    with nogil:
        PyThread_acquire_lock(cache_lock, WAIT_LOCK)
        caching = on
        PyThread_release_lock(cache_lock)
    if not on:
        release_cached_memory()


def cached_memory() -> int:
    """Bytes held in the cache right now."""
    return cached_bytes


def cached_memory_peak(bint reset=False) -> int:
    """The most bytes the cache has held at once since the last reset (``reset=True`` starts
    over from what it holds now): memory a process held that no live array accounts for."""
    global cached_peak
    cdef size_t peak
    with nogil:
        PyThread_acquire_lock(cache_lock, WAIT_LOCK)
        peak = cached_peak
        if reset:
            cached_peak = cached_bytes
        PyThread_release_lock(cache_lock)
    return peak


def _set_limits(size_t cache_bytes, size_t block_bytes) -> tuple:
    """Test shim: set the most the cache holds and the largest block it keeps (the cache is
    emptied first); returns the previous ``(cache_bytes, block_bytes)``."""
    global cache_limit, block_limit
    previous = (cache_limit, block_limit)
    release_cached_memory()
    with nogil:
        PyThread_acquire_lock(cache_lock, WAIT_LOCK)
        cache_limit, block_limit = cache_bytes, block_bytes
        PyThread_release_lock(cache_lock)
    return previous

_caching = NestedSetting(lambda: _set_caching(True), lambda: _set_caching(False))


@contextmanager
def cached_allocations():
    """NumPy arrays created inside the block take their memory from the cache, and large blocks
    freed while any thread is inside such a block are kept for reuse (re-entrant, thread-safe)."""
    with _caching.block():
        previous = PyDataMem_SetHandler(_handler_capsule)
        try:
            yield
        finally:
            PyDataMem_SetHandler(previous)
