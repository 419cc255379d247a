/* Keccak-256 as Ethereum uses it (the Keccak team's padding, 0x01, not SHA-3's 0x06),
 * for chainvm's native build (setup.py, CHAINVM_MYPYC=1); chainvm/crypto.py falls back
 * to safe-pysha3 where this module is not built.
 *
 * Why our own: safe-pysha3's wheels are compiled for the x86-64 baseline, and its
 * permutation runs about a quarter faster when the compiler may use BMI's ANDN and RORX
 * (measured over 6 MB: 478 MB/s for the wheel, 588 for the same sources built with
 * -march=x86-64-v3, 607 with -march=native). The permutation here is compiled twice, for the baseline and with
 * BMI1/BMI2, and the module picks one when it loads. It also takes a buffer and returns
 * the digest in one call, where pysha3 builds a hash object per hash (and clears its
 * state byte by byte when the object is freed): docs/performance.md gives the figures.
 *
 * The state is 25 64-bit lanes, lane (x, y) at index x + 5y, held in local variables
 * across the blocks of one absorb. A round is theta (each lane XORed with the parities
 * of two neighbouring columns), rho and pi (lane (x, y) rotated by its fixed offset and
 * moved to (y, 2x + 3y)), chi (each row mixed nonlinearly) and iota (a round constant
 * XORed into lane (0, 0)); FIPS 202, sections 3.2-3.3. ROUND_A_TO_E and ROUND_E_TO_A
 * below are one round written out, from the a-lanes to the e-lanes and back, so that two
 * rounds need no copy: output row Y of rho-pi takes, at column X, input lane
 * ((X + 3Y) mod 5, X) rotated by that lane's offset.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define RATE 136          /* bytes absorbed per permutation: 1600 - 2 * 256 bits */
#define RATE_LANES 17
#define DIGEST_BYTES 32
#define RELEASE_GIL_FROM 4096  /* bytes: below it, releasing the GIL costs more than it gives */

#if defined(__GNUC__) || defined(__clang__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

#define ROL(v, n) (((v) << (n)) | ((v) >> (64 - (n))))

static uint64_t round_constants[24];

/* The round constants of iota, from the LFSR of FIPS 202 (Algorithm 5, rc): bit 2^j - 1
 * of round i's constant is rc(j + 7i), j = 0..6. */
static void compute_round_constants(void) {
    uint8_t lfsr = 1;  /* rc(0) = 1; x^8 + x^6 + x^5 + x^4 + 1 */
    int bits[168];
    for (int t = 0; t < 168; t++) {
        bits[t] = lfsr & 1;
        lfsr = (uint8_t)((lfsr << 1) ^ ((lfsr & 0x80) ? 0x71 : 0));
    }
    for (int i = 0; i < 24; i++) {
        uint64_t rc = 0;
        for (int j = 0; j < 7; j++) {
            if (bits[j + 7 * i]) {
                rc |= (uint64_t)1 << ((1 << j) - 1);
            }
        }
        round_constants[i] = rc;
    }
}

static inline uint64_t load_lane(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];  /* little-endian whatever the host: compiled to one load on x86 */
    }
    return v;
}

#define ROUND_A_TO_E \
    c0 = a00 ^ a01 ^ a02 ^ a03 ^ a04; \
    c1 = a10 ^ a11 ^ a12 ^ a13 ^ a14; \
    c2 = a20 ^ a21 ^ a22 ^ a23 ^ a24; \
    c3 = a30 ^ a31 ^ a32 ^ a33 ^ a34; \
    c4 = a40 ^ a41 ^ a42 ^ a43 ^ a44; \
    d0 = c4 ^ ROL(c1, 1); \
    d1 = c0 ^ ROL(c2, 1); \
    d2 = c1 ^ ROL(c3, 1); \
    d3 = c2 ^ ROL(c4, 1); \
    d4 = c3 ^ ROL(c0, 1); \
    b0 = a00 ^ d0; \
    b1 = ROL(a11 ^ d1, 44); \
    b2 = ROL(a22 ^ d2, 43); \
    b3 = ROL(a33 ^ d3, 21); \
    b4 = ROL(a44 ^ d4, 14); \
    e00 = b0 ^ (~b1 & b2); \
    e10 = b1 ^ (~b2 & b3); \
    e20 = b2 ^ (~b3 & b4); \
    e30 = b3 ^ (~b4 & b0); \
    e40 = b4 ^ (~b0 & b1); \
    b0 = ROL(a30 ^ d3, 28); \
    b1 = ROL(a41 ^ d4, 20); \
    b2 = ROL(a02 ^ d0, 3); \
    b3 = ROL(a13 ^ d1, 45); \
    b4 = ROL(a24 ^ d2, 61); \
    e01 = b0 ^ (~b1 & b2); \
    e11 = b1 ^ (~b2 & b3); \
    e21 = b2 ^ (~b3 & b4); \
    e31 = b3 ^ (~b4 & b0); \
    e41 = b4 ^ (~b0 & b1); \
    b0 = ROL(a10 ^ d1, 1); \
    b1 = ROL(a21 ^ d2, 6); \
    b2 = ROL(a32 ^ d3, 25); \
    b3 = ROL(a43 ^ d4, 8); \
    b4 = ROL(a04 ^ d0, 18); \
    e02 = b0 ^ (~b1 & b2); \
    e12 = b1 ^ (~b2 & b3); \
    e22 = b2 ^ (~b3 & b4); \
    e32 = b3 ^ (~b4 & b0); \
    e42 = b4 ^ (~b0 & b1); \
    b0 = ROL(a40 ^ d4, 27); \
    b1 = ROL(a01 ^ d0, 36); \
    b2 = ROL(a12 ^ d1, 10); \
    b3 = ROL(a23 ^ d2, 15); \
    b4 = ROL(a34 ^ d3, 56); \
    e03 = b0 ^ (~b1 & b2); \
    e13 = b1 ^ (~b2 & b3); \
    e23 = b2 ^ (~b3 & b4); \
    e33 = b3 ^ (~b4 & b0); \
    e43 = b4 ^ (~b0 & b1); \
    b0 = ROL(a20 ^ d2, 62); \
    b1 = ROL(a31 ^ d3, 55); \
    b2 = ROL(a42 ^ d4, 39); \
    b3 = ROL(a03 ^ d0, 41); \
    b4 = ROL(a14 ^ d1, 2); \
    e04 = b0 ^ (~b1 & b2); \
    e14 = b1 ^ (~b2 & b3); \
    e24 = b2 ^ (~b3 & b4); \
    e34 = b3 ^ (~b4 & b0); \
    e44 = b4 ^ (~b0 & b1);

#define ROUND_E_TO_A \
    c0 = e00 ^ e01 ^ e02 ^ e03 ^ e04; \
    c1 = e10 ^ e11 ^ e12 ^ e13 ^ e14; \
    c2 = e20 ^ e21 ^ e22 ^ e23 ^ e24; \
    c3 = e30 ^ e31 ^ e32 ^ e33 ^ e34; \
    c4 = e40 ^ e41 ^ e42 ^ e43 ^ e44; \
    d0 = c4 ^ ROL(c1, 1); \
    d1 = c0 ^ ROL(c2, 1); \
    d2 = c1 ^ ROL(c3, 1); \
    d3 = c2 ^ ROL(c4, 1); \
    d4 = c3 ^ ROL(c0, 1); \
    b0 = e00 ^ d0; \
    b1 = ROL(e11 ^ d1, 44); \
    b2 = ROL(e22 ^ d2, 43); \
    b3 = ROL(e33 ^ d3, 21); \
    b4 = ROL(e44 ^ d4, 14); \
    a00 = b0 ^ (~b1 & b2); \
    a10 = b1 ^ (~b2 & b3); \
    a20 = b2 ^ (~b3 & b4); \
    a30 = b3 ^ (~b4 & b0); \
    a40 = b4 ^ (~b0 & b1); \
    b0 = ROL(e30 ^ d3, 28); \
    b1 = ROL(e41 ^ d4, 20); \
    b2 = ROL(e02 ^ d0, 3); \
    b3 = ROL(e13 ^ d1, 45); \
    b4 = ROL(e24 ^ d2, 61); \
    a01 = b0 ^ (~b1 & b2); \
    a11 = b1 ^ (~b2 & b3); \
    a21 = b2 ^ (~b3 & b4); \
    a31 = b3 ^ (~b4 & b0); \
    a41 = b4 ^ (~b0 & b1); \
    b0 = ROL(e10 ^ d1, 1); \
    b1 = ROL(e21 ^ d2, 6); \
    b2 = ROL(e32 ^ d3, 25); \
    b3 = ROL(e43 ^ d4, 8); \
    b4 = ROL(e04 ^ d0, 18); \
    a02 = b0 ^ (~b1 & b2); \
    a12 = b1 ^ (~b2 & b3); \
    a22 = b2 ^ (~b3 & b4); \
    a32 = b3 ^ (~b4 & b0); \
    a42 = b4 ^ (~b0 & b1); \
    b0 = ROL(e40 ^ d4, 27); \
    b1 = ROL(e01 ^ d0, 36); \
    b2 = ROL(e12 ^ d1, 10); \
    b3 = ROL(e23 ^ d2, 15); \
    b4 = ROL(e34 ^ d3, 56); \
    a03 = b0 ^ (~b1 & b2); \
    a13 = b1 ^ (~b2 & b3); \
    a23 = b2 ^ (~b3 & b4); \
    a33 = b3 ^ (~b4 & b0); \
    a43 = b4 ^ (~b0 & b1); \
    b0 = ROL(e20 ^ d2, 62); \
    b1 = ROL(e31 ^ d3, 55); \
    b2 = ROL(e42 ^ d4, 39); \
    b3 = ROL(e03 ^ d0, 41); \
    b4 = ROL(e14 ^ d1, 2); \
    a04 = b0 ^ (~b1 & b2); \
    a14 = b1 ^ (~b2 & b3); \
    a24 = b2 ^ (~b3 & b4); \
    a34 = b3 ^ (~b4 & b0); \
    a44 = b4 ^ (~b0 & b1);

/* Absorbs `blocks` whole blocks of `data` into `state` (each block XORed into the first
 * RATE_LANES lanes, then the 24 rounds); inlined into one function per instruction set. */
static ALWAYS_INLINE void absorb_blocks_body(
        uint64_t *state, const uint8_t *data, size_t blocks) {
    uint64_t a00 = state[0], a10 = state[1], a20 = state[2], a30 = state[3], a40 = state[4];
    uint64_t a01 = state[5], a11 = state[6], a21 = state[7], a31 = state[8], a41 = state[9];
    uint64_t a02 = state[10], a12 = state[11], a22 = state[12], a32 = state[13], a42 = state[14];
    uint64_t a03 = state[15], a13 = state[16], a23 = state[17], a33 = state[18], a43 = state[19];
    uint64_t a04 = state[20], a14 = state[21], a24 = state[22], a34 = state[23], a44 = state[24];
    uint64_t e00, e10, e20, e30, e40;
    uint64_t e01, e11, e21, e31, e41;
    uint64_t e02, e12, e22, e32, e42;
    uint64_t e03, e13, e23, e33, e43;
    uint64_t e04, e14, e24, e34, e44;
    uint64_t c0, c1, c2, c3, c4, d0, d1, d2, d3, d4, b0, b1, b2, b3, b4;
    while (blocks--) {
        a00 ^= load_lane(data + 0);
        a10 ^= load_lane(data + 8);
        a20 ^= load_lane(data + 16);
        a30 ^= load_lane(data + 24);
        a40 ^= load_lane(data + 32);
        a01 ^= load_lane(data + 40);
        a11 ^= load_lane(data + 48);
        a21 ^= load_lane(data + 56);
        a31 ^= load_lane(data + 64);
        a41 ^= load_lane(data + 72);
        a02 ^= load_lane(data + 80);
        a12 ^= load_lane(data + 88);
        a22 ^= load_lane(data + 96);
        a32 ^= load_lane(data + 104);
        a42 ^= load_lane(data + 112);
        a03 ^= load_lane(data + 120);
        a13 ^= load_lane(data + 128);
        for (int i = 0; i < 24; i += 2) {
            ROUND_A_TO_E
            e00 ^= round_constants[i];
            ROUND_E_TO_A
            a00 ^= round_constants[i + 1];
        }
        data += RATE;
    }
    state[0] = a00;
    state[1] = a10;
    state[2] = a20;
    state[3] = a30;
    state[4] = a40;
    state[5] = a01;
    state[6] = a11;
    state[7] = a21;
    state[8] = a31;
    state[9] = a41;
    state[10] = a02;
    state[11] = a12;
    state[12] = a22;
    state[13] = a32;
    state[14] = a42;
    state[15] = a03;
    state[16] = a13;
    state[17] = a23;
    state[18] = a33;
    state[19] = a43;
    state[20] = a04;
    state[21] = a14;
    state[22] = a24;
    state[23] = a34;
    state[24] = a44;
}

typedef void (*absorb_fn)(uint64_t *state, const uint8_t *data, size_t blocks);

static void absorb_baseline(uint64_t *state, const uint8_t *data, size_t blocks) {
    absorb_blocks_body(state, data, blocks);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_BMI_VARIANT 1
__attribute__((target("bmi,bmi2")))
static void absorb_bmi(uint64_t *state, const uint8_t *data, size_t blocks) {
    absorb_blocks_body(state, data, blocks);
}
#endif

static absorb_fn absorb = absorb_baseline;
static const char *implementation = "baseline";

typedef struct {
    uint64_t state[25];
    uint8_t pending[RATE];  /* the bytes of a block not yet whole */
    size_t pending_len;
} Sponge;

static void sponge_init(Sponge *s) {
    memset(s->state, 0, sizeof s->state);
    s->pending_len = 0;
}

static void sponge_update(Sponge *s, const uint8_t *data, size_t len) {
    if (s->pending_len) {
        size_t take = RATE - s->pending_len;
        if (take > len) {
            take = len;
        }
        memcpy(s->pending + s->pending_len, data, take);
        s->pending_len += take;
        data += take;
        len -= take;
        if (s->pending_len < RATE) {
            return;
        }
        absorb(s->state, s->pending, 1);
        s->pending_len = 0;
    }
    size_t blocks = len / RATE;
    if (blocks) {
        absorb(s->state, data, blocks);
        data += blocks * RATE;
        len -= blocks * RATE;
    }
    memcpy(s->pending, data, len);
    s->pending_len = len;
}

static PyObject *sponge_digest(Sponge *s) {
    uint8_t digest[DIGEST_BYTES];
    memset(s->pending + s->pending_len, 0, RATE - s->pending_len);
    s->pending[s->pending_len] ^= 0x01;  /* Keccak's padding: 1, zeros, 1 */
    s->pending[RATE - 1] ^= 0x80;
    absorb(s->state, s->pending, 1);
    for (int i = 0; i < DIGEST_BYTES; i++) {
        digest[i] = (uint8_t)(s->state[i / 8] >> (8 * (i % 8)));
    }
    return PyBytes_FromStringAndSize((const char *)digest, DIGEST_BYTES);
}

/* Absorbs a bytes-like object; 0, or -1 with a Python error set. */
static int sponge_update_object(Sponge *s, PyObject *data) {
    if (PyBytes_CheckExact(data)) {
        Py_ssize_t len = PyBytes_GET_SIZE(data);
        const uint8_t *bytes = (const uint8_t *)PyBytes_AS_STRING(data);
        if (len >= RELEASE_GIL_FROM) {
            Py_BEGIN_ALLOW_THREADS
            sponge_update(s, bytes, (size_t)len);
            Py_END_ALLOW_THREADS
        } else {
            sponge_update(s, bytes, (size_t)len);
        }
        return 0;
    }
    Py_buffer view;
    if (PyUnicode_Check(data)) {  /* as hashlib says it */
        PyErr_SetString(PyExc_TypeError, "Strings must be encoded before hashing");
        return -1;
    }
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
        return -1;
    }
    /* The exported buffer cannot be resized or freed until it is released, so the GIL
     * may go while it is read. */
    if (view.len >= RELEASE_GIL_FROM) {
        Py_BEGIN_ALLOW_THREADS
        sponge_update(s, (const uint8_t *)view.buf, (size_t)view.len);
        Py_END_ALLOW_THREADS
    } else {
        sponge_update(s, (const uint8_t *)view.buf, (size_t)view.len);
    }
    PyBuffer_Release(&view);
    return 0;
}

static PyObject *keccak256(PyObject *module, PyObject *data) {
    Sponge s;
    sponge_init(&s);
    if (sponge_update_object(&s, data) < 0) {
        return NULL;
    }
    return sponge_digest(&s);
}

static PyObject *keccak256_parts(PyObject *module, PyObject *parts) {
    Sponge s;
    sponge_init(&s);
    PyObject *sequence = PySequence_Fast(parts, "keccak256_parts takes an iterable of bytes");
    if (sequence == NULL) {
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(sequence);
    PyObject **items = PySequence_Fast_ITEMS(sequence);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (sponge_update_object(&s, items[i]) < 0) {
            Py_DECREF(sequence);
            return NULL;
        }
    }
    Py_DECREF(sequence);
    return sponge_digest(&s);
}

static PyMethodDef methods[] = {
    {"keccak256", keccak256, METH_O, "keccak256(data) -> the 32-byte Keccak-256 digest of a bytes-like object."},
    {"keccak256_parts", keccak256_parts, METH_O,
     "keccak256_parts(parts) -> the digest of the concatenation of bytes-like parts, not built."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "chainvm._keccak",
    "Keccak-256 for chainvm's native build (see the source's header).", -1, methods,
};

PyMODINIT_FUNC PyInit__keccak(void) {
    compute_round_constants();
#ifdef HAVE_BMI_VARIANT
    __builtin_cpu_init();
    if (__builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2")) {
        absorb = absorb_bmi;
        implementation = "bmi2";
    }
#endif
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddStringConstant(module, "IMPLEMENTATION", implementation) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
