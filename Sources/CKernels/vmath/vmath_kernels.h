/* The elementwise loops of vmath.c, written once over a 16-lane vector
 * type V and its operations (included once per ISA with NAME(), V and the
 * ops defined). Each loop works on whole blocks of 16 floats; callers keep
 * their tails; the file undefines those names at its end. The arithmetic is that of `VectorMath.exp` in Swift, one
 * IEEE operation at a time (no fused multiply-adds), so every ISA gives
 * the Swift code's bits. */

static inline V NAME(exp)(V x) {
    const V max_in = SPLAT(88.72283f), min_in = SPLAT(-86.5f), magic = SPLAT(12582912.0f);
    V xc = SELECT(LESS(x, min_in), min_in, x);
    xc = SELECT(GREATER(xc, max_in), max_in, xc);
    V shifted = ADD(MUL(xc, SPLAT(1.442695041f)), magic);
    V n = SUB(shifted, magic);
    V r = SUB(xc, MUL(n, SPLAT(0.693359375f)));
    r = SUB(r, MUL(n, SPLAT(-2.12194440e-4f)));
    V p = SPLAT(1.9875691500e-4f);
    p = ADD(MUL(p, r), SPLAT(1.3981999507e-3f));
    p = ADD(MUL(p, r), SPLAT(8.3334519073e-3f));
    p = ADD(MUL(p, r), SPLAT(4.1665795894e-2f));
    p = ADD(MUL(p, r), SPLAT(1.6666665459e-1f));
    p = ADD(MUL(p, r), SPLAT(5.0000001201e-1f));
    p = ADD(ADD(MUL(p, MUL(r, r)), r), SPLAT(1.0f));
    V result = MUL(MUL(p, POW2(shifted, magic)), SPLAT(2.0f));
    result = SELECT(LESS(x, min_in), SPLAT(0.0f), result);
    result = SELECT(GREATER(x, max_in), SPLAT(__builtin_inff()), result);
    return SELECT(UNEQUAL(x, x), x, result);
}

static void NAME(exp_shifted)(const float *x, float *out, long blocks, float shift, float *lanes) {
    V s = SPLAT(shift), sum = LOAD(lanes);
    for (long b = 0; b < blocks; b++) {
        V e = NAME(exp)(SUB(LOAD(x + 16 * b), s));
        if (out) STORE(out + 16 * b, e);
        sum = ADD(sum, e);
    }
    STORE(lanes, sum);
}

static void NAME(scaled_exp_shifted)(float *z, long blocks, float shift, float scale) {
    V s = SPLAT(shift), g = SPLAT(scale);
    for (long b = 0; b < blocks; b++) STORE(z + 16 * b, MUL(g, NAME(exp)(SUB(LOAD(z + 16 * b), s))));
}

static void NAME(swiglu)(float *out, const float *gate, const float *up, long blocks) {
    V one = SPLAT(1.0f);
    for (long b = 0; b < blocks; b++) {
        V g = LOAD(gate + 16 * b);
        STORE(out + 16 * b, MUL(DIV(g, ADD(one, NAME(exp)(NEG(g)))), LOAD(up + 16 * b)));
    }
}

static void NAME(swiglu_backward)(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                                  long blocks) {
    V one = SPLAT(1.0f);
    for (long b = 0; b < blocks; b++) {
        V g = LOAD(gate + 16 * b), u = LOAD(up + 16 * b), d = LOAD(dout + 16 * b);
        V s = DIV(one, ADD(one, NAME(exp)(NEG(g))));
        STORE(dup + 16 * b, MUL(MUL(d, g), s));
        STORE(dgate + 16 * b, MUL(MUL(MUL(d, u), s), ADD(one, MUL(g, SUB(one, s)))));
    }
}

static const struct scorek_vmath_ops NAME(ops) = {
    NAME(exp_shifted), NAME(scaled_exp_shifted), NAME(swiglu), NAME(swiglu_backward),
};

#undef V
#undef NAME
#undef SPLAT
#undef ADD
#undef SUB
#undef MUL
#undef DIV
#undef NEG
#undef LOAD
#undef STORE
#undef LESS
#undef GREATER
#undef UNEQUAL
#undef SELECT
#undef POW2
