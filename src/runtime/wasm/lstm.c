/*
 * attnc's LSTM step loops as one wasm module (wasm SIMD, 128-bit): the whole-sequence forward and backward
 * passes of kernels.ts (lstmSequenceForward, lstmSequenceBackward), all T steps in one call, products
 * included; the temporal-attention LSTM's passes (temporal_forward, temporal_backward); additive attention
 * pooling (attention_pool_forward, attention_pool_backward); Adam's step of one variable (adam_step); a weight
 * gradient's product A^T B (product_tn); a product alone, for the bench (product). Built by
 * scripts/build-wasm.sh into src/runtime/lstm-wasm.generated.ts; no C library, no static data.
 * The module imports its memory (the wasm backend's, whose tensors it then reads and writes in place, or one of
 * the caller's) and exports its stack pointer, which the caller sets to the top of a stack block it reserved;
 * the caller passes every block's byte address. A kernel writes only within its output and scratch blocks.
 *
 * Layouts (float32, row-major), as kernels.ts documents them. The LSTM passes run on the packed layout: the N
 * real (unmasked) positions of the batch as rows in step order, step t's rows starts[t] to starts[t + 1] - 1,
 * row k belonging to example rows[k] (int32); x [B, T, F], w [F, 4H], u [H, 4H], y [B, T, H], hp and cp [N, H],
 * act [N, 4H] (gates i, f, g, o in blocks of H), tc [N, H], dy [B, T, H], dx [B, T, F]. The temporal-attention passes keep the
 * time-major layout [T, B, ...] with a mask [T, B]. For sigmoid gates the caller scales u and xw as the
 * JavaScript path does (the g columns doubled), so that g = 2 s(z_g) - 1 = tanh of the unscaled pre-activation;
 * hard_sigmoid gates take them unscaled.
 */
#include <wasm_simd128.h>

typedef v128_t f4;

#define SPLAT(x) wasm_f32x4_splat(x)
#define ADD wasm_f32x4_add
#define SUB wasm_f32x4_sub
#define MUL wasm_f32x4_mul
#define LOAD(p) wasm_v128_load(p)
#define STORE(p, v) wasm_v128_store(p, v)

/*
 * e^z for z in [-87.3, 0] (Cephes' expf polynomial): z = n ln 2 + r with n = round(z / ln 2) taken from the low
 * bits of z / ln 2 + 1.5 * 2^23 + 127 (so that those bits shifted into the exponent field are 2^n), r by a
 * two-part ln 2, then e^r by a degree-5 polynomial. Only x64's single instructions (no min, max or
 * float-to-int conversions, whose wasm forms expand to several).
 */
static inline f4 vexpNeg(f4 z) {
  const f4 magic = SPLAT(12583039.0f);
  f4 n = ADD(MUL(z, SPLAT(1.44269504088896341f)), magic);
  const f4 scale = wasm_i32x4_shl(n, 23);
  n = SUB(n, magic);
  f4 r = SUB(z, MUL(n, SPLAT(0.693359375f)));
  r = SUB(r, MUL(n, SPLAT(-2.12194440e-4f)));
  f4 y = SPLAT(1.9875691500e-4f);
  y = ADD(MUL(y, r), SPLAT(1.3981999507e-3f));
  y = ADD(MUL(y, r), SPLAT(8.3334519073e-3f));
  y = ADD(MUL(y, r), SPLAT(4.1665795894e-2f));
  y = ADD(MUL(y, r), SPLAT(1.6666665459e-1f));
  y = ADD(MUL(y, r), SPLAT(5.0000001201e-1f));
  y = ADD(ADD(MUL(MUL(y, r), r), r), SPLAT(1.0f));
  return MUL(y, scale);
}

/* s(x) = 1 / (1 + e^-x): with e = e^-|x| (never overflows), s = e / (1 + e) for x <= 0 and 1 - that for x > 0. */
static inline f4 vsigmoid(f4 x) {
  const f4 z = wasm_f32x4_pmax(wasm_v128_or(x, SPLAT(-0.0f)), SPLAT(-87.3f));
  const f4 e = vexpNeg(z);
  const f4 f = wasm_f32x4_div(e, ADD(e, SPLAT(1.0f)));
  return wasm_v128_bitselect(SUB(SPLAT(1.0f), f), f, wasm_f32x4_gt(x, SPLAT(0.0f)));
}
/* tanh(z) = 2 s(2z) - 1. */
static inline f4 vtanh(f4 z) { return SUB(MUL(SPLAT(2.0f), vsigmoid(ADD(z, z))), SPLAT(1.0f)); }
/* Keras' hard_sigmoid: clip(0.2 z + 0.5, 0, 1). */
static inline f4 vhard(f4 z) {
  return wasm_f32x4_pmin(wasm_f32x4_pmax(ADD(MUL(z, SPLAT(0.2f)), SPLAT(0.5f)), SPLAT(0.0f)), SPLAT(1.0f));
}
/* Its derivative from its value a: 0.2 where 0 < a < 1, else 0. */
static inline f4 vhardSlope(f4 a) {
  v128_t inside = wasm_v128_and(wasm_f32x4_gt(a, SPLAT(0.0f)), wasm_f32x4_lt(a, SPLAT(1.0f)));
  return wasm_v128_and(inside, SPLAT(0.2f));
}

/*
 * Loads and stores of 1 to 4 floats: the cell runs over a row of H in vectors of 4, the last one partial when
 * H is not a multiple of 4 (the missing lanes read as 0 and are not written).
 */
static inline f4 loadN(const float *p, int n) {
  if (n == 4) return LOAD(p);
  float t[4] = {0, 0, 0, 0};
  for (int i = 0; i < n; i++) t[i] = p[i];
  return LOAD(t);
}
static inline void storeN(float *p, f4 v, int n) {
  if (n == 4) {
    STORE(p, v);
    return;
  }
  float t[4];
  STORE(t, v);
  for (int i = 0; i < n; i++) p[i] = t[i];
}

/*
 * The products' one kernel: C [M, N] = C0 [M, N] + A B with B [K, N] (rows N apart, N a multiple of 4) and A
 * [M, K] read through strides: element (i, k) at A[i rs + k ks], rows (rs = K, ks = 1) for gemmAcc, columns
 * (rs = 1, ks = M: A^T) for gemmTN; C0 may be C. Tiles of 4 rows by 8 columns keep their 8 sums in registers
 * (16 on x64: 8 sums, 2 rows of B, 1 broadcast); the last M mod 4 rows (all of them when B < 4, as in one
 * request) go 32 columns at a time, so that 8 independent sums hide the adds' latency, which a single running
 * sum per 4 columns would wait on. Inlined into each caller, which fixes one stride.
 */
static inline __attribute__((always_inline)) void gemmStrided(int M, int K, int N, const float *A, int rs, int ks,
                                                              const float *Bm, const float *C0, float *C) {
  int i = 0;
  for (; i + 4 <= M; i += 4) {
    const float *ai = A + i * rs;
    int j = 0;
    for (; j + 8 <= N; j += 8) {
      const float *c0 = C0 + i * N + j;
      f4 s00 = LOAD(c0), s01 = LOAD(c0 + 4), s10 = LOAD(c0 + N), s11 = LOAD(c0 + N + 4);
      f4 s20 = LOAD(c0 + 2 * N), s21 = LOAD(c0 + 2 * N + 4), s30 = LOAD(c0 + 3 * N), s31 = LOAD(c0 + 3 * N + 4);
      const float *a0 = ai, *a1 = ai + rs, *a2 = a1 + rs, *a3 = a2 + rs, *b = Bm + j;
      for (int k = 0; k < K; k++, b += N) {
        f4 b0 = LOAD(b), b1 = LOAD(b + 4);
        f4 x = SPLAT(a0[k * ks]);
        s00 = ADD(s00, MUL(x, b0));
        s01 = ADD(s01, MUL(x, b1));
        x = SPLAT(a1[k * ks]);
        s10 = ADD(s10, MUL(x, b0));
        s11 = ADD(s11, MUL(x, b1));
        x = SPLAT(a2[k * ks]);
        s20 = ADD(s20, MUL(x, b0));
        s21 = ADD(s21, MUL(x, b1));
        x = SPLAT(a3[k * ks]);
        s30 = ADD(s30, MUL(x, b0));
        s31 = ADD(s31, MUL(x, b1));
      }
      float *c = C + i * N + j;
      STORE(c, s00);
      STORE(c + 4, s01);
      STORE(c + N, s10);
      STORE(c + N + 4, s11);
      STORE(c + 2 * N, s20);
      STORE(c + 2 * N + 4, s21);
      STORE(c + 3 * N, s30);
      STORE(c + 3 * N + 4, s31);
    }
    for (; j < N; j += 4) {
      const float *c0 = C0 + i * N + j;
      f4 s0 = LOAD(c0), s1 = LOAD(c0 + N), s2 = LOAD(c0 + 2 * N), s3 = LOAD(c0 + 3 * N);
      const float *a = ai, *b = Bm + j;
      for (int k = 0; k < K; k++, a += ks, b += N) {
        f4 b0 = LOAD(b);
        s0 = ADD(s0, MUL(SPLAT(a[0]), b0));
        s1 = ADD(s1, MUL(SPLAT(a[rs]), b0));
        s2 = ADD(s2, MUL(SPLAT(a[2 * rs]), b0));
        s3 = ADD(s3, MUL(SPLAT(a[3 * rs]), b0));
      }
      float *c = C + i * N + j;
      STORE(c, s0);
      STORE(c + N, s1);
      STORE(c + 2 * N, s2);
      STORE(c + 3 * N, s3);
    }
  }
  for (; i < M; i++) {
    const float *ai = A + i * rs;
    int j = 0;
    for (; j + 32 <= N; j += 32) {
      const float *c0 = C0 + i * N + j;
      f4 s0 = LOAD(c0), s1 = LOAD(c0 + 4), s2 = LOAD(c0 + 8), s3 = LOAD(c0 + 12);
      f4 s4 = LOAD(c0 + 16), s5 = LOAD(c0 + 20), s6 = LOAD(c0 + 24), s7 = LOAD(c0 + 28);
      const float *a = ai, *b = Bm + j;
      for (int k = 0; k < K; k++, b += N) {
        const f4 x = SPLAT(a[k * ks]);
        s0 = ADD(s0, MUL(x, LOAD(b)));
        s1 = ADD(s1, MUL(x, LOAD(b + 4)));
        s2 = ADD(s2, MUL(x, LOAD(b + 8)));
        s3 = ADD(s3, MUL(x, LOAD(b + 12)));
        s4 = ADD(s4, MUL(x, LOAD(b + 16)));
        s5 = ADD(s5, MUL(x, LOAD(b + 20)));
        s6 = ADD(s6, MUL(x, LOAD(b + 24)));
        s7 = ADD(s7, MUL(x, LOAD(b + 28)));
      }
      float *c = C + i * N + j;
      STORE(c, s0);
      STORE(c + 4, s1);
      STORE(c + 8, s2);
      STORE(c + 12, s3);
      STORE(c + 16, s4);
      STORE(c + 20, s5);
      STORE(c + 24, s6);
      STORE(c + 28, s7);
    }
    for (; j < N; j += 4) {
      const float *c0 = C0 + i * N + j;
      f4 s0 = LOAD(c0);
      const float *a = ai, *b = Bm + j;
      for (int k = 0; k < K; k++, a += ks, b += N) s0 = ADD(s0, MUL(SPLAT(a[0]), LOAD(b)));
      STORE(C + i * N + j, s0);
    }
  }
}

/* C [M, N] = C0 [M, N] + A [M, K] B [K, N], N a multiple of 4 (N = 4H). */
static void gemmAcc(int M, int K, int N, const float *A, const float *Bm, const float *C0, float *C) {
  gemmStrided(M, K, N, A, K, 1, Bm, C0, C);
}

/* C [M, N] = A [M, K] B [K, N], N a multiple of 4: gemmAcc from zero. */
static void gemm(int M, int K, int N, const float *A, const float *Bm, float *C) {
  for (int q = 0; q < M * N; q++) C[q] = 0;
  gemmAcc(M, K, N, A, Bm, C, C);
}

static inline float hsum(f4 v) {
  v = ADD(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  v = ADD(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
  return wasm_f32x4_extract_lane(v, 0);
}

/*
 * C [M, N] = A^T B with A [K, M] and B [K, N] (N a multiple of 4): the weight gradients, summed over the K
 * positions, in blocks of 32 positions (their rows of A and B stay in cache while every tile of C takes them
 * in), each adding to C, which starts at zero.
 */
static void gemmTN(int K, int M, int N, const float *A, const float *Bm, float *C) {
  const int KB = 32;
  for (int q = 0; q < M * N; q++) C[q] = 0;
  for (int k0 = 0; k0 < K; k0 += KB)
    gemmStrided(M, K - k0 < KB ? K - k0 : KB, N, A + k0 * M, 1, M, Bm + k0 * N, C, C);
}

/* Where one example's row of the forward cell reads and writes at one step (see cellRow). */
typedef struct {
  float *z;        /* [4H] pre-activations in, gates (i, f, g, o) out */
  float *tc;       /* [H] tanh of the new cell */
  float *y;        /* [H] the step's output */
  const float *hp; /* [H] h and c before the step */
  const float *cp;
  float *hn; /* [H] h and c for the next step, or null after the last */
  float *cn;
  float m; /* mask value */
} Row;

/* The cell on floats j to j + n - 1 (n <= 4) of a row; `hard` and n are constants where it is inlined. */
static inline __attribute__((always_inline)) void cellVec(const Row *r, int H, int j, int n, const int hard) {
  float *zr = r->z;
  f4 i, f, g, o;
  if (hard) {
    i = vhard(loadN(zr + j, n));
    f = vhard(loadN(zr + H + j, n));
    g = vtanh(loadN(zr + 2 * H + j, n));
    o = vhard(loadN(zr + 3 * H + j, n));
  } else {
    i = vsigmoid(loadN(zr + j, n));
    f = vsigmoid(loadN(zr + H + j, n));
    g = SUB(MUL(SPLAT(2.0f), vsigmoid(loadN(zr + 2 * H + j, n))), SPLAT(1.0f));
    o = vsigmoid(loadN(zr + 3 * H + j, n));
  }
  storeN(zr + j, i, n);
  storeN(zr + H + j, f, n);
  storeN(zr + 2 * H + j, g, n);
  storeN(zr + 3 * H + j, o, n);
  const f4 cPrev = loadN(r->cp + j, n);
  const f4 c = ADD(MUL(f, cPrev), MUL(i, g));
  const f4 tv = vtanh(c);
  storeN(r->tc + j, tv, n);
  f4 h = MUL(o, tv);
  f4 cc = c;
  if (r->m != 1.0f) {
    const f4 mv = SPLAT(r->m);
    const f4 hPrev = loadN(r->hp + j, n);
    h = ADD(hPrev, MUL(mv, SUB(h, hPrev)));
    cc = ADD(cPrev, MUL(mv, SUB(c, cPrev)));
  }
  storeN(r->y + j, h, n);
  if (r->hn) {
    storeN(r->hn + j, h, n);
    storeN(r->cn + j, cc, n);
  }
}

/* The cell over a row of H: whole vectors, then the partial one. */
static inline __attribute__((always_inline)) void cellRow(const Row *r, int H, const int hard) {
  int j = 0;
  for (; j + 4 <= H; j += 4) cellVec(r, H, j, 4, hard);
  if (j < H) cellVec(r, H, j, H - j, hard);
}

/*
 * One step's cell over the batch: z [B, 4H] (pre-activations in, gates out), tc [B, H]; example b's output at
 * y + b * yStride, its mask value at mask[b * maskStride] (mask may be null); h and c before the step hIn, cIn
 * [B, H], after it hNext, cNext (null after the last step).
 */
static void cellStep(int B, int H, int hard, float *z, float *tc, float *y, int yStride, const float *hIn,
                     const float *cIn, float *hNext, float *cNext, const float *mask, int maskStride) {
  for (int b = 0; b < B; b++) {
    const Row r = {
        .z = z + b * 4 * H,
        .tc = tc + b * H,
        .y = y + b * yStride,
        .hp = hIn + b * H,
        .cp = cIn + b * H,
        .hn = hNext ? hNext + b * H : 0,
        .cn = cNext ? cNext + b * H : 0,
        .m = mask ? mask[b * maskStride] : 1.0f,
    };
    if (hard)
      cellRow(&r, H, 1);
    else
      cellRow(&r, H, 0);
  }
}

/* Copies n floats. */
static inline void copyN(int n, const float *from, float *to) {
  for (int q = 0; q < n; q++) to[q] = from[q];
}

/* W [D, A] into wp [D, A4] (A4 = A rounded up to a multiple of 4), the extra columns zero. */
static void padColumns(int D, int A, int A4, const float *W, float *wp) {
  for (int d = 0; d < D; d++)
    for (int a = 0; a < A4; a++) wp[d * A4 + a] = a < A ? W[d * A + a] : 0;
}

/*
 * C [M, N] = A^T B for A [K, M] and B [K, N] (kernels.ts' productTN: a weight's gradient over K positions). N not a
 * multiple of 4: B padded to N4 columns (zero) in work, C computed there [M, N4] and copied out; work (K + M) N4
 * floats then, none otherwise.
 */
__attribute__((export_name("product_tn"))) void productTN(int K, int M, int N, const float *A, const float *Bm,
                                                         float *C, float *work) {
  const int N4 = (N + 3) & ~3;
  if (N4 == N) {
    gemmTN(K, M, N, A, Bm, C);
    return;
  }
  float *bp = work, *cp = work + K * N4;
  padColumns(K, N, N4, Bm, bp);
  gemmTN(K, M, N4, A, bp, cp);
  for (int i = 0; i < M; i++) copyN(N, cp + i * N4, C + i * N);
}

/* C [M, N] = A [M, K] B [K, N] (N a multiple of 4): the module's product alone, for the bench's limit. */
__attribute__((export_name("product"))) void product(int M, int K, int N, const float *A, const float *Bm, float *C) {
  gemm(M, K, N, A, Bm, C);
}

/*
 * The rows of x [B, T, D] at the packed positions (row k: example rows[k] at its step) into xr [N, D], each row
 * at stride `stride` (D, or wider to leave room beside it).
 */
static void gatherSteps(int T, int D, const float *x, const int *rows, const int *starts, float *xr, int stride) {
  for (int t = 0; t < T; t++)
    for (int k = starts[t]; k < starts[t + 1]; k++) copyN(D, x + (rows[k] * T + t) * D, xr + k * stride);
}

/*
 * One LSTM direction's forward pass, in the order of `reverse`, on the packed layout: x [B, T, F], w [F, 4H],
 * u [H, 4H] and bias [4H] (the g columns doubled for sigmoid gates). The input projection of every real
 * position first, z = bias + x w for the N rows (the x rows gathered), then per step: h and c of the step's
 * examples (the state, hs and cs [B, H], zero before the first step read) gathered into hp and cp, z += hp u,
 * the gates, c = f c_prev + i g, h = o tanh(c), scattered back into the state; then y[b, t] = the state's h for
 * every b, so a masked step's output is the carried h. work is 4 B H + N F floats.
 */
__attribute__((export_name("lstm_forward"))) void lstmForward(int T, int B, int H, int F, int reverse, int hard,
                                                             const float *x, const float *w, const float *u,
                                                             const float *bias, const int *rows, const int *starts,
                                                             float *y, float *hp, float *cp, float *act, float *tc,
                                                             float *work) {
  const int H4 = 4 * H, BH = B * H, N = starts[T];
  float *hs = work, *cs = work + BH, *hn = work + 2 * BH, *cn = work + 3 * BH, *xr = work + 4 * BH;
  for (int k = 0; k < 2 * BH; k++) work[k] = 0;
  gatherSteps(T, F, x, rows, starts, xr, F);
  for (int k = 0; k < N; k++) copyN(H4, bias, act + k * H4);
  gemmAcc(N, F, H4, xr, w, act, act);
  for (int s = 0; s < T; s++) {
    const int t = reverse ? T - 1 - s : s;
    const int k0 = starts[t], n = starts[t + 1] - k0;
    float *hIn = hp + k0 * H, *cIn = cp + k0 * H, *z = act + k0 * H4;
    for (int j = 0; j < n; j++) {
      const int b = rows[k0 + j];
      copyN(H, hs + b * H, hIn + j * H);
      copyN(H, cs + b * H, cIn + j * H);
    }
    if (n > 0) {
      gemmAcc(n, H, H4, hIn, u, z, z);
      cellStep(n, H, hard, z, tc + k0 * H, hn, H, hIn, cIn, hn, cn, 0, 1);
    }
    for (int j = 0; j < n; j++) {
      const int b = rows[k0 + j];
      copyN(H, hn + j * H, hs + b * H);
      copyN(H, cn + j * H, cs + b * H);
    }
    for (int b = 0; b < B; b++) copyN(H, hs + b * H, y + (b * T + t) * H);
  }
}

/* Where one example's row of the backward cell reads and writes at one step (see cellGradRow). */
typedef struct {
  const float *act; /* [4H] gate values (i, f, g, o) */
  const float *tc;  /* [H] tanh of the new cell */
  const float *cp;  /* [H] c before the step */
  const float *dy;  /* [H] gradient of the step's output */
  float *dz;        /* [4H] out */
  float *dhr;       /* [H] recurrent gradient of h (in) */
  float *dc;        /* [H] gradient of c (in, out) */
  float *dhc;       /* [H] gradient of h carried over masked steps (in, out) */
  float m;          /* mask value */
} GradRow;

/* The cell's derivatives on floats j to j + n - 1 (n <= 4) of a row; `hard` and n are constants where inlined. */
static inline __attribute__((always_inline)) void cellGradVec(const GradRow *r, int H, int j, int n, const int hard) {
  const f4 one = SPLAT(1.0f), m = SPLAT(r->m);
  const f4 dhTotal = ADD(ADD(loadN(r->dy + j, n), loadN(r->dhr + j, n)), loadN(r->dhc + j, n));
  const f4 dhNew = MUL(m, dhTotal);
  const f4 dcIn = loadN(r->dc + j, n);
  const f4 dcNew = MUL(m, dcIn);
  const float *ar = r->act;
  const f4 i = loadN(ar + j, n), f = loadN(ar + H + j, n), g = loadN(ar + 2 * H + j, n), o = loadN(ar + 3 * H + j, n);
  const f4 tv = loadN(r->tc + j, n);
  const f4 dcTot = ADD(dcNew, MUL(MUL(dhNew, o), SUB(one, MUL(tv, tv))));
  f4 si, sf, so;
  if (hard) {
    si = vhardSlope(i);
    sf = vhardSlope(f);
    so = vhardSlope(o);
  } else {
    si = MUL(i, SUB(one, i));
    sf = MUL(f, SUB(one, f));
    so = MUL(o, SUB(one, o));
  }
  float *zr = r->dz;
  storeN(zr + j, MUL(MUL(dcTot, g), si), n);
  storeN(zr + H + j, MUL(MUL(dcTot, loadN(r->cp + j, n)), sf), n);
  storeN(zr + 2 * H + j, MUL(MUL(dcTot, i), SUB(one, MUL(g, g))), n);
  storeN(zr + 3 * H + j, MUL(MUL(dhNew, tv), so), n);
  storeN(r->dc + j, ADD(MUL(dcTot, f), SUB(dcIn, dcNew)), n);
  storeN(r->dhc + j, SUB(dhTotal, dhNew), n);
}

/* The cell's derivatives over a row of H: whole vectors, then the partial one. */
static inline __attribute__((always_inline)) void cellGradRow(const GradRow *r, int H, const int hard) {
  int j = 0;
  for (; j + 4 <= H; j += 4) cellGradVec(r, H, j, 4, hard);
  if (j < H) cellGradVec(r, H, j, H - j, hard);
}

/*
 * One step's backward cell over the batch: example b's output gradient at dy + b * dyStride, its mask value at
 * mask[b * maskStride] (mask may be null); dz [B, 4H] out, its sum over b added to dbAcc.
 */
static void cellGradStep(int B, int H, int hard, const float *act, const float *tc, const float *cp, const float *dy,
                         int dyStride, const float *mask, int maskStride, float *dz, float *dhr, float *dc, float *dhc,
                         double *dbAcc) {
  const int H4 = 4 * H;
  for (int b = 0; b < B; b++) {
    const GradRow r = {
        .act = act + b * H4,
        .tc = tc + b * H,
        .cp = cp + b * H,
        .dy = dy + b * dyStride,
        .dz = dz + b * H4,
        .dhr = dhr + b * H,
        .dc = dc + b * H,
        .dhc = dhc + b * H,
        .m = mask ? mask[b * maskStride] : 1.0f,
    };
    if (hard)
      cellGradRow(&r, H, 1);
    else
      cellGradRow(&r, H, 0);
  }
  for (int c = 0; c < H4; c += 4) {
    f4 sum = SPLAT(0);
    for (int b = 0; b < B; b++) sum = ADD(sum, LOAD(dz + b * H4 + c));
    dbAcc[c] += wasm_f32x4_extract_lane(sum, 0);
    dbAcc[c + 1] += wasm_f32x4_extract_lane(sum, 1);
    dbAcc[c + 2] += wasm_f32x4_extract_lane(sum, 2);
    dbAcc[c + 3] += wasm_f32x4_extract_lane(sum, 3);
  }
}

/*
 * One LSTM direction's backward pass on the packed layout, from the last step read to the first: x, w and u
 * (unscaled) as in the forward pass, dy [B, T, H], and act, tc, cp, hp as it wrote them. The gradients of each
 * example's state, dh and dc [B, H], start at zero; a masked step adds its output gradient to dh (its h is the
 * carried one); a real step gathers dy, dh and dc of its examples, runs the backward cell (dz of its rows, dc
 * for the step before), and dz [w; u]^T gives dx at the step's positions and dh, scattered back. After the
 * loop [x | hp]^T dz over the N rows gives dw and du. Outputs dx [B, T, F] (zero at masked positions), dw,
 * du, db. work: 6 B H + B G4 + N 4H + N G + 4H G4 + G 4H floats (G = F + H, G4 = G rounded up to a multiple
 * of 4); dbAcc 4H doubles.
 */
__attribute__((export_name("lstm_backward"))) void lstmBackward(int T, int B, int H, int F, int reverse, int hard,
                                                               const float *dy, const float *x, const float *act,
                                                               const float *tc, const float *cp, const float *hp,
                                                               const float *w, const float *u, const int *rows,
                                                               const int *starts, float *dx, float *dw, float *du,
                                                               float *db, float *work, double *dbAcc) {
  const int H4 = 4 * H, BH = B * H, G = F + H, G4 = (G + 3) / 4 * 4, N = starts[T];
  float *dh = work, *dc = work + BH, *dyr = work + 2 * BH, *dhr = work + 3 * BH, *dcr = work + 4 * BH,
        *dhc = work + 5 * BH, *dxh = work + 6 * BH, *dz = dxh + B * G4, *xh = dz + N * H4, *wuT = xh + N * G,
        *dwu = wuT + H4 * G4;
  for (int k = 0; k < 2 * BH; k++) work[k] = 0;
  for (int k = 0; k < B * T * F; k++) dx[k] = 0;
  for (int c = 0; c < H4; c++) dbAcc[c] = 0;
  /* [w; u]^T [4H, G4], its columns past G zero: each step's dz [w; u]^T is then a plain product. */
  for (int c = 0; c < H4; c++) {
    float *r = wuT + c * G4;
    for (int g = 0; g < F; g++) r[g] = w[g * H4 + c];
    for (int g = 0; g < H; g++) r[F + g] = u[g * H4 + c];
    for (int g = G; g < G4; g++) r[g] = 0;
  }
  for (int s = T - 1; s >= 0; s--) {
    const int t = reverse ? T - 1 - s : s;
    const int k0 = starts[t], n = starts[t + 1] - k0;
    for (int b = 0, j = 0; b < B; b++) {
      const float *d = dy + (b * T + t) * H;
      if (j < n && rows[k0 + j] == b) {
        copyN(H, d, dyr + j * H);
        copyN(H, dh + b * H, dhr + j * H);
        copyN(H, dc + b * H, dcr + j * H);
        for (int q = 0; q < H; q++) dhc[j * H + q] = 0;
        j++;
      } else
        for (int q = 0; q < H; q++) dh[b * H + q] += d[q];
    }
    if (n == 0) continue;
    float *zt = dz + k0 * H4;
    cellGradStep(n, H, hard, act + k0 * H4, tc + k0 * H, cp + k0 * H, dyr, H, 0, 1, zt, dhr, dcr, dhc, dbAcc);
    gemm(n, H4, G4, zt, wuT, dxh);
    for (int j = 0; j < n; j++) {
      const int b = rows[k0 + j];
      copyN(F, dxh + j * G4, dx + (b * T + t) * F);
      copyN(H, dxh + j * G4 + F, dh + b * H);
      copyN(H, dcr + j * H, dc + b * H);
    }
  }
  gatherSteps(T, F, x, rows, starts, xh, G);
  for (int k = 0; k < N; k++) copyN(H, hp + k * H, xh + k * G + F);
  gemmTN(N, G, H4, xh, dz, dwu);
  copyN(F * H4, dwu, dw);
  copyN(H * H4, dwu + F * H4, du);
  for (int c = 0; c < H4; c++) db[c] = (float)dbAcc[c];
}

/*
 * One Adam step of a variable of n floats, into valueOut, mOut and vOut: tfjs' AdamOptimizer's
 * operations in its order, each a float32 operation (IEEE, correctly rounded, no contraction), so that the
 * result equals tf.train.adam's bit for bit (see kernels.ts' adamStep for the equations and the constants).
 */
#pragma STDC FP_CONTRACT OFF
__attribute__((export_name("adam_step"))) void adamStep(int n, const float *value, const float *g, const float *m,
                                                       const float *v, float *valueOut, float *mOut, float *vOut,
                                                       float b1, float b2, float c1, float c2, float o1, float o2,
                                                       float eps, float nlr) {
  int k = 0;
  const f4 B1 = SPLAT(b1), B2 = SPLAT(b2), C1 = SPLAT(c1), C2 = SPLAT(c2), O1 = SPLAT(o1), O2 = SPLAT(o2);
  const f4 EPS = SPLAT(eps), NLR = SPLAT(nlr);
  for (; k + 4 <= n; k += 4) {
    const f4 gk = LOAD(g + k);
    const f4 mk = ADD(MUL(LOAD(m + k), B1), MUL(gk, C1));
    const f4 vk = ADD(MUL(LOAD(v + k), B2), MUL(MUL(gk, gk), C2));
    STORE(mOut + k, mk);
    STORE(vOut + k, vk);
    const f4 den = ADD(wasm_f32x4_sqrt(wasm_f32x4_div(vk, O2)), EPS);
    STORE(valueOut + k, ADD(MUL(wasm_f32x4_div(wasm_f32x4_div(mk, O1), den), NLR), LOAD(value + k)));
  }
  for (; k < n; k++) {
    const float gk = g[k];
    const float mk = m[k] * b1 + gk * c1;
    const float vk = v[k] * b2 + (gk * gk) * c2;
    mOut[k] = mk;
    vOut[k] = vk;
    const float den = __builtin_sqrtf(vk / o2) + eps;
    valueOut[k] = ((mk / o1) / den) * nlr + value[k];
  }
}

/* e^z for one z <= 0 (clamped at -87.3, where e^z is below float32's normal range). */
static inline float expNeg1(float z) {
  return wasm_f32x4_extract_lane(vexpNeg(SPLAT(z < -87.3f ? -87.3f : z)), 0);
}

/* C [M, N] = A [M, K] B [K, N] for any N (the small products of the attention, p = h Wh). */
static void gemmAny(int M, int K, int N, const float *A, const float *Bm, float *C) {
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j += 4) {
      const int n = N - j < 4 ? N - j : 4;
      f4 s = SPLAT(0);
      for (int k = 0; k < K; k++) s = ADD(s, MUL(SPLAT(A[i * K + k]), loadN(Bm + k * N + j, n)));
      storeN(C + i * N + j, s, n);
    }
}

/* y += a x over n floats. */
static inline void axpy(int n, float a, const float *x, float *y) {
  const f4 av = SPLAT(a);
  int k = 0;
  for (; k + 4 <= n; k += 4) STORE(y + k, ADD(LOAD(y + k), MUL(av, LOAD(x + k))));
  for (; k < n; k++) y[k] += a * x[k];
}

/* x . y over n floats. */
static inline float dot(int n, const float *x, const float *y) {
  f4 s = SPLAT(0);
  int k = 0;
  for (; k + 4 <= n; k += 4) s = ADD(s, MUL(LOAD(x + k), LOAD(y + k)));
  float r = hsum(s);
  for (; k < n; k++) r += x[k] * y[k];
  return r;
}

/*
 * One example's additive attention over T positions (kernels.ts' attend): u_i = tanh(pre_i + q) (T rows of A
 * floats, written to u), e_i = v . u_i (+ bias_i), a = softmax over the unmasked i (all masked: all 0), written
 * to w; out = sum_i a_i val_i (D floats). mask and bias may be null.
 */
static void attendRow(int T, int A, int D, const float *pre, const float *q, const float *v, const float *mask,
                      const float *bias, float *u, float *w, const float *val, float *out) {
  float mx = -__builtin_inff();
  for (int i = 0; i < T; i++) {
    f4 s = SPLAT(0);
    int a = 0;
    for (; a + 4 <= A; a += 4) {
      const f4 uu = vtanh(ADD(LOAD(pre + i * A + a), LOAD(q + a)));
      STORE(u + i * A + a, uu);
      s = ADD(s, MUL(uu, LOAD(v + a)));
    }
    if (a < A) {
      const int n = A - a;
      const f4 uu = vtanh(ADD(loadN(pre + i * A + a, n), loadN(q + a, n)));
      storeN(u + i * A + a, uu, n);
      s = ADD(s, MUL(uu, loadN(v + a, n)));
    }
    const float e = hsum(s) + (bias ? bias[i] : 0.0f);
    w[i] = e;
    if ((!mask || mask[i] != 0.0f) && e > mx) mx = e;
  }
  float sum = 0;
  for (int i = 0; i < T; i++) {
    const float m = mask ? mask[i] : 1.0f;
    const float d = w[i] - mx;
    /* min(d, 0) that keeps a NaN score NaN (as Math.min does), so that a diverged weight shows in the output. */
    const float ex = m == 0.0f ? 0.0f : expNeg1(d > 0.0f ? 0.0f : d) * m;
    w[i] = ex;
    sum += ex;
  }
  const float den = sum > 1e-30f ? sum : 1e-30f;
  for (int d = 0; d < D; d++) out[d] = 0;
  for (int i = 0; i < T; i++) {
    const float a = w[i] / den;
    w[i] = a;
    if (a != 0.0f) axpy(D, a, val + i * D, out);
  }
}

/*
 * Its derivatives (kernels.ts' attendGrad), from dOut (D floats, the gradient of out) and dw (T floats, of the
 * weights): dVal_i += a_i dOut; with da_i = dw_i + val_i . dOut and s = sum_i a_i da_i, de_i = a_i (da_i - s)
 * goes to dBias_i (doubles, if not null), and through u_i = tanh(.) to dpre_i (added) and rowSum (set: the sum
 * over i, the gradient of q); dvRow += de_i u_i. da: T floats of scratch.
 */
static void attendGradRow(int T, int A, int D, const float *u, const float *v, const float *w, const float *dw,
                          const float *val, const float *dOut, float *dVal, float *dpre, float *rowSum, float *dvRow,
                          double *dBias, float *da) {
  const f4 one = SPLAT(1.0f);
  float s = 0;
  for (int a = 0; a < A; a++) rowSum[a] = 0;
  for (int i = 0; i < T; i++) {
    const float d = dw[i] + dot(D, val + i * D, dOut);
    axpy(D, w[i], dOut, dVal + i * D);
    da[i] = d;
    s += w[i] * d;
  }
  for (int i = 0; i < T; i++) {
    const float de = w[i] * (da[i] - s);
    if (de == 0.0f) continue;
    if (dBias) dBias[i] += de;
    const f4 dev = SPLAT(de);
    int a = 0;
    for (; a + 4 <= A; a += 4) {
      const f4 uu = LOAD(u + i * A + a);
      const f4 d = MUL(MUL(dev, LOAD(v + a)), SUB(one, MUL(uu, uu)));
      STORE(dpre + i * A + a, ADD(LOAD(dpre + i * A + a), d));
      STORE(rowSum + a, ADD(LOAD(rowSum + a), d));
      STORE(dvRow + a, ADD(LOAD(dvRow + a), MUL(dev, uu)));
    }
    for (; a < A; a++) {
      const float uu = u[i * A + a];
      const float d = de * v[a] * (1.0f - uu * uu);
      dpre[i * A + a] += d;
      rowSum[a] += d;
      dvRow[a] += de * uu;
    }
  }
}

/*
 * The temporal-attention LSTM's forward pass over all T steps: kernels.ts' temporalForward (its layouts, its
 * equations) in one call. At step t: p = h_{t-1} Wh; u_i = tanh(xw_i + p); e_i = v . u_i (+ pos_{i-t+T-1});
 * a = softmax over the unmasked i; x~ = sum_i a_i x_i; z = [x~ | h_{t-1}] wu + bias (+ zx_t); the cell as in
 * lstm_forward. Scratch: p [B, A] and zero [B, max(A, 4H)].
 */
__attribute__((export_name("temporal_forward"))) void temporalForward(int T, int B, int Fd, int H, int A, int hard,
                                                                     const float *x, const float *xw, const float *wh,
                                                                     const float *v, const float *wu, const float *bias,
                                                                     const float *mask, const float *zx, const float *pos,
                                                                     float *out, float *xh, float *hp, float *cp,
                                                                     float *act, float *tc, float *u, float *p,
                                                                     float *zero) {
  const int H4 = 4 * H, K = Fd + H, O = H + T, BH = B * H, BH4 = B * H4, TA = T * A;
  const int zeros = B * (A > H4 ? A : H4);
  for (int k = 0; k < BH; k++) hp[k] = cp[k] = 0;
  for (int k = 0; k < zeros; k++) zero[k] = 0;
  for (int t = 0; t < T; t++) {
    const float *hIn = hp + t * BH, *cIn = cp + t * BH;
    if (A % 4 == 0)
      gemmAcc(B, H, A, hIn, wh, zero, p);
    else
      gemmAny(B, H, A, hIn, wh, p);
    float *xt = xh + t * B * K;
    for (int b = 0; b < B; b++) {
      float *row = xt + b * K;
      attendRow(T, A, Fd, xw + b * TA, p + b * A, v, mask ? mask + b * T : 0, pos ? pos + T - 1 - t : 0,
                u + (t * B + b) * TA, out + (b * T + t) * O + H, x + b * T * Fd, row);
      for (int j = 0; j < H; j++) row[Fd + j] = hIn[b * H + j];
    }
    float *z = act + t * BH4;
    gemmAcc(B, K, H4, xt, wu, zero, z);
    for (int b = 0; b < B; b++)
      for (int c = 0; c < H4; c += 4) STORE(z + b * H4 + c, ADD(LOAD(z + b * H4 + c), LOAD(bias + c)));
    if (zx)
      for (int k = 0; k < BH4; k += 4) STORE(z + k, ADD(LOAD(z + k), LOAD(zx + t * BH4 + k)));
    cellStep(B, H, hard, z, tc + t * BH, out + t * O, T * O, hIn, cIn, t + 1 < T ? hp + (t + 1) * BH : 0,
             t + 1 < T ? cp + (t + 1) * BH : 0, mask ? mask + t : 0, T);
  }
}

/*
 * The temporal-attention LSTM's backward pass: kernels.ts' temporalBackward (its layouts, its equations) in one
 * call, from the last step to the first: the cell's derivatives (as lstm_backward), dxh = dz wu^T, the
 * attention's derivatives (the weighted sum into dx, the scores through tanh into dxw and dp, the score bias
 * into dpos), dh_{t-1} = dxh's h part + dp Wh^T. wut is [4H, K] unscaled, wht [A, H]. Scratch: work 3 B H + B K4
 * + B H + B max(A, H) + A + 4H K4 floats (K4: K rounded up to a multiple of 4), acc 4H + A + 2T - 1 doubles.
 */
__attribute__((export_name("temporal_backward"))) void temporalBackward(
    int T, int B, int Fd, int H, int A, int hard, const float *dout, const float *x, const float *out, const float *cp,
    const float *act, const float *tc, const float *u, const float *v, const float *wut, const float *wht,
    const float *mask, int hasPos, float *dz, float *db, float *dp, float *dxw, float *dx, float *dv, float *dpos,
    float *work, double *acc) {
  const int H4 = 4 * H, K = Fd + H, K4 = (K + 3) / 4 * 4, O = H + T, BH = B * H, BH4 = B * H4, TA = T * A;
  const int P = 2 * T - 1, zeros = B * (A > H ? A : H);
  float *dhr = work, *dc = work + BH, *dhc = work + 2 * BH, *dxh = work + 3 * BH, *dhp = dxh + B * K4;
  float *zero = dhp + BH, *wuT = zero + zeros + A;
  /* wut with its columns padded to K4 (zero): each step's dz wu^T is then a plain product. */
  padColumns(H4, K, K4, wut, wuT);
  double *dbAcc = acc, *dvAcc = acc + H4, *dposAcc = acc + H4 + A;
  for (int k = 0; k < 3 * BH; k++) work[k] = 0;
  for (int k = 0; k < zeros; k++) zero[k] = 0;
  for (int k = 0; k < H4 + A + P; k++) acc[k] = 0;
  for (int k = 0; k < B * TA; k++) dxw[k] = 0;
  for (int k = 0; k < B * T * Fd; k++) dx[k] = 0;
  for (int t = T - 1; t >= 0; t--) {
    float *zt = dz + t * BH4;
    cellGradStep(B, H, hard, act + t * BH4, tc + t * BH, cp + t * BH, dout + t * O, T * O, mask ? mask + t : 0, T, zt,
                 dhr, dc, dhc, dbAcc);
    gemm(B, H4, K4, zt, wuT, dxh);
    for (int b = 0; b < B; b++) {
      float *dvRow = zero + zeros;
      for (int a = 0; a < A; a++) dvRow[a] = 0;
      attendGradRow(T, A, Fd, u + (t * B + b) * TA, v, out + (b * T + t) * O + H, dout + (b * T + t) * O + H,
                    x + b * T * Fd, dxh + b * K4, dx + b * T * Fd, dxw + b * TA, dp + (t * B + b) * A, dvRow,
                    hasPos ? dposAcc + T - 1 - t : 0, dpos);
      for (int a = 0; a < A; a++) dvAcc[a] += dvRow[a];
    }
    if (H % 4 == 0)
      gemmAcc(B, A, H, dp + t * B * A, wht, zero, dhp);
    else
      gemmAny(B, A, H, dp + t * B * A, wht, dhp);
    for (int b = 0; b < B; b++)
      for (int j = 0; j < H; j++) dhr[b * H + j] = dxh[b * K4 + Fd + j] + dhp[b * H + j];
  }
  for (int c = 0; c < H4; c++) db[c] = (float)dbAcc[c];
  for (int a = 0; a < A; a++) dv[a] = (float)dvAcc[a];
  for (int k = 0; k < P; k++) dpos[k] = hasPos ? (float)dposAcc[k] : 0.0f;
}

/* Whether position k of the batch (example k / T, step k % T) is real: mask null or nonzero there. */
static inline int isReal(const float *mask, int k) { return !mask || mask[k] != 0.0f; }

/*
 * Additive attention pooling over h [B, T, D] (kernels.ts' attentionPoolForward): pre = h W (W [D, A]) for the
 * real positions only (a masked position's score is dropped: its pre stays 0), then per example u_i = tanh(pre_i
 * + bias), e_i = v . u_i, a = softmax over the real i, c = sum_i a_i h_i (attendRow). Outputs out [B, D + T]
 * (c, then a) and u [B T, A]. Scratch: B T (D + A4 + A) + D A4 floats.
 */
__attribute__((export_name("attention_pool_forward"))) void attentionPoolForward(int B, int T, int D, int A,
                                                                                const float *h, const float *W,
                                                                                const float *bias, const float *v,
                                                                                const float *mask, float *out, float *u,
                                                                                float *work) {
  const int O = D + T, A4 = (A + 3) & ~3;
  float *wp = work, *hr = wp + D * A4, *pr = hr + B * T * D, *pre = pr + B * T * A4;
  padColumns(D, A, A4, W, wp);
  int n = 0;
  for (int k = 0; k < B * T; k++)
    if (isReal(mask, k)) copyN(D, h + k * D, hr + (n++) * D);
  gemm(n, D, A4, hr, wp, pr);
  for (int k = 0, j = 0; k < B * T; k++) {
    if (isReal(mask, k))
      copyN(A, pr + (j++) * A4, pre + k * A);
    else
      for (int a = 0; a < A; a++) pre[k * A + a] = 0;
  }
  for (int b = 0; b < B; b++)
    attendRow(T, A, D, pre + b * T * A, bias, v, mask ? mask + b * T : 0, 0, u + b * T * A, out + b * O + D,
              h + b * T * D, out + b * O);
}

/*
 * Its backward pass (kernels.ts' attentionPoolBackward): per example the derivatives of the weighted sum and the
 * scores (attendGradRow: dh through the sum, dpre, dv, db); then for the real positions (a masked one's dpre is
 * 0) dh += dpre W^T and dW = h^T dpre. Outputs dh [B, T, D], dW [D, A], dv, db [A]. Scratch: work 2A + T +
 * B T (A + A4 + D + D4) + A4 D4 + D A4 floats (A4, D4: A and D rounded up to a multiple of 4), acc 2A doubles.
 */
__attribute__((export_name("attention_pool_backward"))) void attentionPoolBackward(
    int B, int T, int D, int A, const float *dout, const float *out, const float *u, const float *v, const float *h,
    const float *W, const float *mask, float *dh, float *dW, float *dv, float *db, float *work, double *acc) {
  const int O = D + T, A4 = (A + 3) & ~3, D4 = (D + 3) & ~3;
  float *rowSum = work, *dvRow = work + A, *da = work + 2 * A, *dpre = da + T, *wT = dpre + B * T * A,
        *hr = wT + A4 * D4, *dpr = hr + B * T * D, *dhr = dpr + B * T * A4, *dw4 = dhr + B * T * D4;
  double *dvAcc = acc, *dbAcc = acc + A;
  for (int k = 0; k < B * T * D; k++) dh[k] = 0;
  for (int k = 0; k < B * T * A; k++) dpre[k] = 0;
  for (int a = 0; a < 2 * A; a++) acc[a] = 0;
  for (int b = 0; b < B; b++) {
    for (int a = 0; a < A; a++) dvRow[a] = 0;
    attendGradRow(T, A, D, u + b * T * A, v, out + b * O + D, dout + b * O + D, h + b * T * D, dout + b * O,
                  dh + b * T * D, dpre + b * T * A, rowSum, dvRow, 0, da);
    for (int a = 0; a < A; a++) {
      dvAcc[a] += dvRow[a];
      dbAcc[a] += rowSum[a];
    }
  }
  for (int a = 0; a < A; a++) {
    dv[a] = (float)dvAcc[a];
    db[a] = (float)dbAcc[a];
  }
  /* W^T [A4, D4], zero past A and D: dpre W^T is then a plain product. */
  for (int a = 0; a < A4; a++)
    for (int d = 0; d < D4; d++) wT[a * D4 + d] = a < A && d < D ? W[d * A + a] : 0;
  int n = 0;
  for (int k = 0; k < B * T; k++)
    if (isReal(mask, k)) {
      copyN(D, h + k * D, hr + n * D);
      for (int a = 0; a < A4; a++) dpr[n * A4 + a] = a < A ? dpre[k * A + a] : 0;
      n++;
    }
  gemm(n, A4, D4, dpr, wT, dhr);
  for (int k = 0, j = 0; k < B * T; k++)
    if (isReal(mask, k)) {
      axpy(D, 1.0f, dhr + j * D4, dh + k * D);
      j++;
    }
  gemmTN(n, D, A4, hr, dpr, dw4);
  for (int d = 0; d < D; d++) copyN(A, dw4 + d * A4, dW + d * A);
}
