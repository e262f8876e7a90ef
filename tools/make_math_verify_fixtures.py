#!/usr/bin/env python3
"""Labelled (prediction, gold) math-answer pairs, labelled by Hugging Face's
math-verify, for checking that libscore's answer verifier agrees with it.

Usage:
    pip install math-verify            # pulls latex2sympy2_extended + sympy
    python tools/make_math_verify_fixtures.py [--suspicious]

Writes Tests/Fixtures/verify/math_verify_pairs.jsonl, one JSON object a line:

    {"category": str, "prediction": str, "gold": str, "label": bool}

and prints a per-category count of true/false labels.

How labels are made (exactly this, nothing else):

    from math_verify import parse, verify
    label = verify(parse("$" + gold + "$"), parse(prediction))

`gold` is a bare LaTeX answer as in the MATH dataset's solutions (e.g.
`2\\frac{1}{3}`, `25\\%`, `\\{1,2,3\\}`, `[2, 5)`), wrapped in $...$ only for
parsing; `prediction` is the text a model would end a solution with (mostly
`\\boxed{...}`, also "The final answer is $...$", `$...$`, a bare answer, and
the "extraction" category's multi-candidate endings). All parse/verify
arguments are math-verify's defaults. Should a gold ever give no SymPy object
from "$gold$" but one from "\\boxed{gold}", the boxed form is used for that
gold, and the run says so (with math-verify 0.9.0 no gold needs it).

The pairs are built from hand-written tricky cases plus cases drawn from a
random.Random(SEED); the order is fixed, so with the same math-verify /
latex2sympy2_extended / sympy versions two runs give byte-identical files.
Labels are math-verify's, right or wrong: they are a reference for agreement,
not ground truth. `--suspicious` lists the pairs where math-verify's label
differs from the label this script intended when building the pair (None =
no opinion), i.e. the candidates for math-verify being wrong.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from fractions import Fraction
from math import comb, factorial, gcd
from pathlib import Path

SEED = 20240607
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "verify" / "math_verify_pairs.jsonl"

CATEGORIES = [
    "integers", "decimals", "fractions", "mixed_numbers", "percents",
    "roots_pi", "factorials", "sets_lists", "intervals",
    "equations_inequalities", "degrees", "units_text", "matrices",
    "algebraic", "adversarial", "extraction",
]

T, F, N = True, False, None  # intended label: equal / different / no opinion


class Builder:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.items: list[tuple[str, str, str, bool | None]] = []
        self.seen: set[tuple[str, str, str]] = set()

    def raw(self, cat: str, gold: str, pred: str, exp: bool | None) -> None:
        key = (cat, pred, gold)
        if key in self.seen:
            return
        self.seen.add(key)
        self.items.append((cat, gold, pred, exp))

    def wrap(self, ans: str, style: str | None = None) -> str:
        """The way a model would end a solution with `ans`."""
        if style is None:
            style = self.rng.choices(
                ["boxed", "boxed_sentence", "final", "dollar", "bare"],
                weights=[45, 15, 15, 12, 13])[0]
        if style == "boxed":
            return "\\boxed{" + ans + "}"
        if style == "boxed_sentence":
            lead = self.rng.choice(["Therefore, the answer is", "So the answer is",
                                    "Thus we get", "Hence"])
            return f"{lead} $\\boxed{{{ans}}}$."
        if style == "final":
            return f"The final answer is ${ans}$. I hope it is correct."
        if style == "dollar":
            return f"${ans}$"
        # A model writes LaTeX between math delimiters; only plain text
        # (digits, operators, words) is ever left bare.
        if "\\" in ans or "{" in ans:
            return f"${ans}$"
        return ans

    def add(self, cat: str, gold: str, ans: str, exp: bool | None,
            style: str | None = None) -> None:
        self.raw(cat, gold, self.wrap(ans, style), exp)


def frac(p: int, q: int, cmd: str = "frac") -> str:
    if p < 0:
        return f"-\\{cmd}{{{-p}}}{{{q}}}"
    return f"\\{cmd}{{{p}}}{{{q}}}"


def commas(n: int) -> str:
    return f"{n:,}"


# --------------------------------------------------------------------------
# categories


def integers(b: Builder) -> None:
    c, r = "integers", b.rng
    hand = [
        ("42", "42", T), ("42", "042", T), ("1000", "1,000", T), ("1,000", "1000", T),
        ("-7", "-7", T), ("5", "+5", T), ("-7", "7", F), ("12", "21", F),
        ("100", "10", F), ("1000", "1,001", F), ("0", "0", T), ("0", "-0", T),
        ("10", "10.0", T), ("3", "3.5", F), ("1000000", "1{,}000{,}000", T),
        ("1000000", "1\\,000\\,000", T), ("2", "\\text{two}", T), ("7", "-7", F),
        ("2019", "2,019", T), ("12345", "12,354", F), ("-3", "- 3", T),
        ("8", "(8)", T), ("0", "O", F), ("1", "l", F),
    ]
    for g, p, e in hand:
        b.add(c, g, p, e, "boxed")
    for _ in range(30):
        n = r.choice([r.randint(0, 99), r.randint(100, 999), r.randint(1000, 99999)])
        if r.random() < 0.2:
            n = -n
        g = str(n)
        variants_t = [g, f"{n:,}" if abs(n) >= 1000 else g, f"+{n}" if n > 0 else g,
                      f"{n}.0", f"0{n}" if n > 0 else g]
        b.add(c, g, r.choice(variants_t), T)
        d = r.choice([1, -1, 2, 10, -10])
        variants_f = [str(n + d), str(-n) if n else "1"]
        rev = str(abs(n))[::-1].lstrip("0")
        if rev and int(rev) != abs(n):
            variants_f.append(("-" if n < 0 else "") + rev)
        b.add(c, g, r.choice(variants_f), F)


def decimals(b: Builder) -> None:
    c, r = "decimals", b.rng
    hand = [
        ("0.5", "\\frac12", T), ("0.5", "\\frac{1}{2}", T), ("0.5", "0.50", T),
        ("0.5", ".5", T), ("3.14", "3.140", T), ("\\frac{1}{3}", "0.333", F),
        ("\\frac{1}{3}", "0.3333333", F), ("\\frac{1}{3}", "0.\\overline{3}", T),
        ("0.\\overline{3}", "\\frac{1}{3}", T), ("3.14", "\\pi", F), ("0.1", "\\frac{1}{10}", T),
        ("1.5", "\\frac{3}{2}", T), ("0.5", "0.05", F), ("12.0", "12", T),
        ("2.25", "2\\frac{1}{4}", T), ("0.125", "\\frac{1}{8}", T), ("0.125", "0.12", F),
        ("0.67", "\\frac{2}{3}", F), ("1.0", "1", T), ("-0.25", "-\\frac{1}{4}", T),
        ("-0.25", "0.25", F), ("4.5", "4.50", T), ("0.0001", "10^{-4}", T),
        ("0.0001", "0.001", F),
    ]
    for g, p, e in hand:
        b.add(c, g, p, e)
    for _ in range(28):
        k = r.choice([1, 2, 2, 3])
        v = Fraction(r.randint(1, 10 ** k * 9), 10 ** k)
        if v.denominator == 1:
            v += Fraction(1, 10 ** k)
        s = f"{float(v):.{k}f}"
        g = s
        tv = [s + "0", s.lstrip("0") if s.startswith("0.") else s + "00",
              frac(v.numerator, v.denominator), f"{v.numerator}/{v.denominator}"]
        b.add(c, g, r.choice(tv), T)
        fv = [f"{float(v) * 10:.{k}f}", f"{float(v) + 10 ** -k:.{k}f}",
              f"{float(v):.{k}f}".replace(".", "") if float(v) >= 1 else s.replace("0.", "0.0", 1),
              f"{round(float(v), k - 1):.{k - 1}f}" if k > 1 and round(float(v), k - 1) != float(v)
              else f"{float(v) + 1:.{k}f}"]
        b.add(c, g, r.choice(fv), F)


def fractions(b: Builder) -> None:
    c, r = "fractions", b.rng
    hand = [
        ("\\frac{7}{3}", "\\frac{7}{3}", T), ("\\frac{7}{3}", "7/3", T),
        ("\\frac{7}{3}", "\\dfrac{7}{3}", T), ("\\frac{7}{3}", "\\tfrac{7}{3}", T),
        ("\\frac{7}{3}", "\\frac73", T), ("\\frac73", "\\frac{7}{3}", T),
        ("-\\frac{1}{2}", "\\frac{-1}{2}", T), ("-\\frac{1}{2}", "\\frac{1}{-2}", T),
        ("-\\frac{1}{2}", "-1/2", T), ("\\frac{1}{2}", "\\frac{2}{4}", T),
        ("\\frac{1}{2}", "\\frac{-1}{2}", F), ("\\frac{7}{3}", "\\frac{3}{7}", F),
        ("\\frac{7}{3}", "\\frac{7}{4}", F), ("\\frac{7}{3}", "2.33", F),
        ("\\dfrac{5}{8}", "0.625", T), ("\\frac{5}{8}", "5 / 8", T),
        ("\\frac{1}{2}", "1/2", T), ("\\frac{10}{4}", "\\frac52", T),
        ("\\frac{3}{4}", "\\frac{3}{4}.", T), ("\\frac{3}{4}", "\\frac{6}{8}", T),
        ("\\frac{3}{4}", "\\frac{4}{3}", F), ("\\frac{3}{4}", "34", F),
        ("\\frac{1}{2}", "\\frac{1}{2}\\", T), ("\\frac{-3}{4}", "-\\dfrac{3}{4}", T),
    ]
    for g, p, e in hand:
        b.add(c, g, p, e)
    for _ in range(28):
        q = r.randint(2, 15)
        p = r.randint(1, 3 * q)
        if gcd(p, q) != 1 or p % q == 0:
            p = 1 if q > 1 else 3
        if r.random() < 0.25:
            p = -p
        g = frac(p, q, r.choice(["frac", "frac", "dfrac"]))
        k = r.randint(2, 5)
        tv = [frac(p, q, "frac"), frac(p, q, "dfrac"), frac(p, q, "tfrac"), f"{p}/{q}",
              frac(k * p, k * q)]
        if 0 <= p < 10 and q < 10:
            tv.append(f"\\frac{p}{q}")
        if p < 0:
            tv += [f"\\frac{{{p}}}{{{q}}}", f"\\frac{{{-p}}}{{-{q}}}"]
        b.add(c, g, r.choice(tv), T)
        fv = [frac(q, abs(p)) if abs(p) != 1 else str(q), frac(p + 1 if p + 1 else 2, q),
              frac(-p, q), frac(p, q + 1), f"{abs(p)}{q}"]
        b.add(c, g, r.choice(fv), F)


def mixed_numbers(b: Builder) -> None:
    c, r = "mixed_numbers", b.rng
    hand = [
        ("2\\frac{1}{3}", "\\frac{7}{3}", T), ("2\\frac{1}{3}", "2 \\frac{1}{3}", T),
        ("2\\frac{1}{3}", "2\\frac{1}{3}", T), ("\\frac{7}{3}", "2\\frac{1}{3}", T),
        ("\\frac{7}{3}", "2 \\frac{1}{3}", T), ("2\\frac{1}{3}", "\\frac{2}{3}", F),
        ("2\\frac{1}{3}", "7/3", T), ("2\\frac{1}{3}", "2\\tfrac{1}{3}", T),
        ("2\\frac{1}{3}", "2\\dfrac13", T), ("-2\\frac{1}{3}", "-\\frac{7}{3}", T),
        ("-2\\frac{1}{3}", "-\\frac{5}{3}", F), ("1\\frac{1}{2}", "1.5", T),
        ("1\\frac{1}{2}", "\\frac{1}{2}", F), ("3\\frac{3}{4}", "3.75", T),
        ("3\\frac{3}{4}", "\\frac{15}{4}", T), ("3\\frac{3}{4}", "\\frac{9}{4}", F),
        ("5\\frac{1}{2}", "5 1/2", T), ("\\frac{11}{2}", "5\\frac12", T),
        ("2\\frac{1}{3}", "3\\frac{1}{3}", F), ("2\\frac{1}{3}", "2\\frac{1}{4}", F),
        ("4\\frac{2}{5}", "4+\\frac{2}{5}", T), ("4\\frac{2}{5}", "4\\cdot\\frac{2}{5}", F),
    ]
    for g, p, e in hand:
        b.add(c, g, p, e)
    for _ in range(30):
        a, q = r.randint(1, 12), r.randint(2, 9)
        p = r.randint(1, q - 1)
        while gcd(p, q) != 1:
            p = r.randint(1, q - 1)
        g = f"{a}\\frac{{{p}}}{{{q}}}"
        imp = Fraction(a * q + p, q)
        tv = [frac(imp.numerator, imp.denominator), f"{a} \\frac{{{p}}}{{{q}}}",
              f"{imp.numerator}/{imp.denominator}", f"{a}\\dfrac{{{p}}}{{{q}}}"]
        if (imp * 100).denominator == 1:
            tv.append(str(float(imp)))
        if r.random() < 0.3:  # the reverse direction: improper gold, mixed prediction
            b.add(c, frac(imp.numerator, imp.denominator), f"{a}\\frac{{{p}}}{{{q}}}", T)
        else:
            b.add(c, g, r.choice(tv), T)
        fv = [frac(a * p, q), f"{a + 1}\\frac{{{p}}}{{{q}}}", frac(p, q),
              frac(a * q - p, q), f"{a}\\frac{{{q}}}{{{p}}}"]
        b.add(c, g, r.choice(fv), F)


def percents(b: Builder) -> None:
    c, r = "percents", b.rng
    hand = [
        ("25\\%", "0.25", T), ("25\\%", "25", N), ("25\\%", "25\\%", T),
        ("0.25", "25\\%", T), ("25\\%", "\\frac{1}{4}", T), ("25\\%", "25%", T),
        ("25\\%", "25 \\text{ percent}", N), ("25\\%", "2.5\\%", F), ("25\\%", "0.025", F),
        ("12.5\\%", "0.125", T), ("12.5\\%", "12.5", N), ("12.5\\%", "\\frac{1}{8}", T),
        ("100\\%", "1", T), ("50\\%", "\\frac12", T), ("50\\%", "5\\%", F),
        ("33\\frac{1}{3}\\%", "\\frac{1}{3}", T), ("40", "40\\%", N), ("0.4", "4\\%", F),
        ("20\\%", "20 \\%", T), ("20\\%", "0.2\\%", F),
    ]
    for g, p, e in hand:
        b.add(c, g, p, e)
    for _ in range(32):
        p = r.choice([r.randint(1, 99), r.randint(1, 199) / 2])
        ps = str(int(p)) if float(p).is_integer() else str(p)
        dec = f"{p / 100:.4f}".rstrip("0").rstrip(".")
        mode = r.random()
        if mode < 0.7:
            g = ps + "\\%"
            b.add(c, g, r.choice([ps + "\\%", dec, ps + "\\%", ps + "%"]), T)
            q = p + r.choice([1, 5, -1, 10]) if p > 10 else p + 1
            qs = str(int(q)) if float(q).is_integer() else str(q)
            b.add(c, g, r.choice([qs + "\\%", f"{p / 10:g}", f"{q / 100:g}"]), F)
        else:
            g = dec
            b.add(c, g, ps + "\\%", T)
            b.add(c, g, r.choice([dec + "\\%", f"{p + 1:g}\\%"]), F)


def roots_pi(b: Builder) -> None:
    c, r = "roots_pi", b.rng
    hand = [
        ("2\\sqrt{2}", "\\sqrt{8}", T), ("\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt3}{2}", T),
        ("\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}\\sqrt{3}", T),
        ("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}", T), ("\\frac{1}{\\sqrt{2}}", "\\frac{\\sqrt2}{2}", T),
        ("3", "\\sqrt[3]{27}", T), ("\\sqrt[3]{27}", "3", T), ("2\\pi", "\\pi\\cdot 2", T),
        ("2\\pi", "2 \\pi", T), ("\\frac{\\pi}{4}", "\\frac{1}{4}\\pi", T),
        ("\\frac{\\pi}{4}", "\\pi/4", T), ("\\frac{\\pi}{4}", "0.785", F),
        ("3\\sqrt{2}", "3\\sqrt{3}", F), ("\\pi", "3.14", F), ("\\pi", "3.14159265358979", F),
        ("\\sqrt{2}", "1.414", F), ("\\sqrt{2}", "\\sqrt 2", T), ("\\sqrt{2}", "2^{1/2}", T),
        ("\\sqrt{2}", "2^{\\frac{1}{2}}", T), ("4\\sqrt{3}", "\\sqrt{48}", T),
        ("4\\sqrt{3}", "\\sqrt{12}", F), ("5+2\\sqrt{6}", "(\\sqrt{2}+\\sqrt{3})^2", T),
        ("\\sqrt{5}-1", "-1+\\sqrt{5}", T), ("\\frac{\\sqrt{5}+1}{2}", "\\frac{1+\\sqrt5}{2}", T),
        ("\\frac{\\sqrt{5}+1}{2}", "\\frac{\\sqrt5-1}{2}", F), ("16\\pi", "16", F),
        ("36\\pi", "36 \\pi \\text{ cm}^2", T), ("\\pi r^2", "r^2\\pi", T),
        ("2\\sqrt{6}", "\\sqrt{24}", T), ("\\sqrt{-4}", "2i", T), ("2i", "-2i", F),
    ]
    for g, p, e in hand:
        b.add(c, g, p, e)
    for _ in range(14):
        a, s = r.randint(2, 9), r.choice([2, 3, 5, 6, 7, 10, 11])
        g = f"{a}\\sqrt{{{s}}}"
        b.add(c, g, r.choice([f"\\sqrt{{{a * a * s}}}", f"\\sqrt{{{s}}}\\cdot {a}",
                              f"{a}\\sqrt {s}" if s < 10 else f"{a}\\sqrt{{{s}}}"]), T)
        b.add(c, g, r.choice([f"{a}\\sqrt{{{s + 1}}}", f"{a + 1}\\sqrt{{{s}}}",
                              f"\\sqrt{{{a * s}}}", f"{a * s}"]), F)
    for _ in range(10):
        k, n = r.randint(1, 7), r.choice([2, 3, 4, 6, 12])
        if gcd(k, n) != 1:
            k = 1
        g = f"\\frac{{{k}\\pi}}{{{n}}}" if k > 1 else f"\\frac{{\\pi}}{{{n}}}"
        b.add(c, g, r.choice([f"\\frac{{{k}}}{{{n}}}\\pi", f"{k}\\pi/{n}",
                              f"\\frac{{{k}\\pi}}{{{n}}}"]), T)
        b.add(c, g, r.choice([f"\\frac{{{n}\\pi}}{{{k}}}", f"\\frac{{{k}}}{{{n}}}",
                              f"\\frac{{{k + 1}\\pi}}{{{n}}}"]), F)
    for _ in range(6):
        n = r.randint(2, 6)
        b.add(c, str(n), f"\\sqrt[3]{{{n ** 3}}}", T)
        b.add(c, str(n), f"\\sqrt[3]{{{n ** 3 + 1}}}", F)


def factorials(b: Builder) -> None:
    c, r = "factorials", b.rng
    hand = [
        ("6", "3!", T), ("3!", "6", T), ("120", "5!", T), ("5!", "120", T),
        ("10", "\\binom{5}{2}", T), ("\\binom{5}{2}", "10", T), ("25", "4!", F),
        ("4!", "25", F), ("1", "0!", T), ("0!", "0", F), ("15", "5!!", T),
        ("\\binom{5}{2}", "\\binom{5}{3}", T), ("10", "{5 \\choose 2}", T),
        ("\\binom{6}{3}", "\\binom{6}{2}", F), ("720", "6!", T), ("\\frac{6!}{4!}", "30", T),
        ("\\frac{6!}{4!}", "\\frac{6}{4}", F), ("3!\\cdot 2!", "12", T), ("3!+2!", "8", T),
        ("3!+2!", "5!", F), ("40320", "8!", T), ("5040", "7!", T), ("5040", "8!", F),
        ("\\dbinom{7}{3}", "35", T), ("\\tbinom{7}{3}", "35", T), ("35", "C(7,3)", T),
    ]
    for g, p, e in hand:
        b.add(c, g, p, e)
    for _ in range(14):
        n = r.randint(2, 9)
        v = factorial(n)
        if r.random() < 0.5:
            b.add(c, str(v), f"{n}!", T)
            b.add(c, str(v), r.choice([f"{n + 1}!", f"{n - 1}!", str(v + 1)]), F)
        else:
            b.add(c, f"{n}!", str(v), T)
            b.add(c, f"{n}!", r.choice([str(v * n), str(v - 1), str(n)]), F)
    for _ in range(14):
        n = r.randint(4, 12)
        k = r.randint(1, n - 1)
        v = comb(n, k)
        if r.random() < 0.5:
            b.add(c, str(v), f"\\binom{{{n}}}{{{k}}}", T)
            b.add(c, str(v), r.choice([f"\\binom{{{n}}}{{{k + 1}}}" if comb(n, k + 1) != v
                                       else f"\\binom{{{n + 1}}}{{{k}}}", str(v + 1)]), F)
        else:
            b.add(c, f"\\binom{{{n}}}{{{k}}}", r.choice([str(v), f"\\binom{{{n}}}{{{n - k}}}"]), T)
            b.add(c, f"\\binom{{{n}}}{{{k}}}", str(v * 2), F)


def sets_lists(b: Builder) -> None:
    c, r = "sets_lists", b.rng
    hand = [
        ("\\{1, 2, 3\\}", "\\{3, 2, 1\\}", T), ("-1, 4", "4, -1", T), ("\\{1,2\\}", "\\{1,2,3\\}", F),
        ("(1, 2)", "(2, 1)", F), ("(1, 2)", "(1,2)", T), ("\\{1,2,3\\}", "1, 2, 3", T),
        ("\\{1,1,2\\}", "\\{1,2\\}", T), ("-1, 4", "x=-1, x=4", T), ("-1, 4", "x = 4 \\text{ or } x = -1", T),
        ("-1, 4", "-1", F), ("-1, 4", "4", F), ("\\{1,2,3\\}", "\\{1,2,4\\}", F),
        ("(3, -2)", "(3,-2)", T), ("(3, -2)", "(-2, 3)", F), ("(3, -2)", "x=3, y=-2", N),
        ("(1, 2, 3)", "(1, 2, 3)", T), ("(1, 2, 3)", "(1, 3, 2)", F), ("\\emptyset", "\\{\\}", T),
        ("\\emptyset", "\\{0\\}", F), ("\\{\\frac{1}{2}, 2\\}", "\\{2, 0.5\\}", T),
        ("\\left(\\frac{1}{2}, 3\\right)", "(0.5, 3)", T), ("1, 2, 3", "1, 2", F),
        ("2, 3", "\\{2; 3\\}", T), ("\\{a, b\\}", "\\{b, a\\}", T),
    ]
    for g, p, e in hand:
        b.add(c, g, p, e)
    for _ in range(26):
        k = r.randint(2, 4)
        xs = r.sample(range(-9, 13), k)
        kind = r.random()
        ys = xs[:]
        r.shuffle(ys)
        if ys == xs:
            ys = ys[1:] + ys[:1]
        if kind < 0.4:
            g = "\\{" + ", ".join(map(str, xs)) + "\\}"
            b.add(c, g, "\\{" + ",".join(map(str, ys)) + "\\}", T)
            zs = xs[:-1] if r.random() < 0.5 else xs + [max(xs) + 1]
            b.add(c, g, "\\{" + ", ".join(map(str, zs)) + "\\}", F)
        elif kind < 0.75:
            g = ", ".join(map(str, xs))
            b.add(c, g, ", ".join(map(str, ys)), T)
            zs = xs[:]
            zs[r.randrange(k)] += r.choice([1, -1])
            if len(set(zs)) < k:
                zs = [-x for x in xs] if any(xs) else [x + 1 for x in xs]
            b.add(c, g, ", ".join(map(str, zs)), F)
        else:
            g = "(" + ", ".join(map(str, xs)) + ")"
            b.add(c, g, "(" + ",".join(map(str, xs)) + ")", T)
            b.add(c, g, "(" + ", ".join(map(str, ys)) + ")", F)


def intervals(b: Builder) -> None:
    c, r = "intervals", b.rng
    hand = [
        ("[2, 5)", "[2,5)", T), ("[2, 5)", "(2, 5]", F), ("[2, 5)", "[2, 5]", F),
        ("(-\\infty, 3]", "(-\\infty,3]", T), ("(-\\infty, 3]", "(-\\infty, 3)", F),
        ("(-\\infty, 3]", "x \\le 3", T), ("(-\\infty, 3]", "x \\leq 3", T),
        ("(-\\infty,1)\\cup(2,\\infty)", "(2,\\infty)\\cup(-\\infty,1)", T),
        ("(-\\infty,1)\\cup(2,\\infty)", "(1,2)", F), ("(-\\infty,1)\\cup(2,\\infty)", "(-\\infty,1]\\cup[2,\\infty)", F),
        ("(-\\infty, \\infty)", "\\mathbb{R}", T), ("(-\\infty,\\infty)", "(-\\infty, \\infty)", T),
        ("[0, \\infty)", "[0,+\\infty)", T), ("[0, \\infty)", "(0, \\infty)", F),
        ("(-3, 3)", "-3 < x < 3", T), ("(-3, 3)", "\\left(-3, 3\\right)", T),
        ("[-1, 1]", "\\left[-1,1\\right]", T), ("[-1, 1]", "[-1, 1)", F),
        ("(1, \\infty)", "x > 1", T), ("(1, \\infty)", "x \\geq 1", F),
        ("\\left[\\frac{1}{2}, 3\\right)", "[0.5, 3)", T), ("[1,2]\\cup[3,4]", "[3,4]\\cup[1,2]", T),
        ("[1,2]\\cup[3,4]", "[1,4]", F), ("(0, 1]", "(0,1]", T), ("[2, 5)", "\\left[2, 5\\right)", T),
        ("(-\\infty, 3]", "(-\\infty , 3 ]", T), ("[0,1]", "[0, 1]", T), ("(0, 1]", "(0,1)", F),
    ]
    for g, p, e in hand:
        b.add(c, g, p, e)
    for _ in range(28):
        a = r.randint(-10, 8)
        z = a + r.randint(1, 9)
        lo, hi = r.choice("[("), r.choice("])")
        kind = r.random()
        if kind < 0.6:
            g = f"{lo}{a}, {z}{hi}"
            b.add(c, g, r.choice([f"{lo}{a},{z}{hi}", f"\\left{lo}{a}, {z}\\right{hi}"]), T)
            flip = {"[": "(", "(": "["}
            flip_r = {"]": ")", ")": "]"}
            b.add(c, g, r.choice([f"{flip[lo]}{a}, {z}{hi}", f"{lo}{a}, {z}{flip_r[hi]}",
                                  f"{lo}{a}, {z + 1}{hi}"]), F)
        elif kind < 0.8:
            g = f"(-\\infty, {a}{hi}"
            b.add(c, g, f"(-\\infty,{a}{hi}", T)
            b.add(c, g, f"({a}, \\infty)", F)
        else:
            g = f"(-\\infty, {a})\\cup({z}, \\infty)"
            b.add(c, g, f"({z},\\infty) \\cup (-\\infty,{a})", T)
            b.add(c, g, f"({a}, {z})", F)


def lin_tex(m: int, k: int, const_first: bool = False) -> str:
    """m x + k as a person writes it: `2x - 3`, `-x + 4`, `-3 + 2x`."""
    mx = {0: "", 1: "x", -1: "-x"}.get(m, f"{m}x")
    if not mx:
        return str(k)
    if const_first:
        return f"{k} {'-' if m < 0 else '+'} {mx.lstrip('-')}" if k else mx
    return f"{mx} {'-' if k < 0 else '+'} {abs(k)}" if k else mx


def equations_inequalities(b: Builder) -> None:
    c, r = "equations_inequalities", b.rng
    hand = [
        ("x = 3", "3", T), ("3", "x = 3", T), ("x = 3", "x=3", T), ("x = 3", "x = -3", F),
        ("x > 2", "x > 2", T), ("x > 2", "2 < x", T), ("x > 2", "x \\ge 2", F), ("x > 2", "x > 3", F),
        ("x > 2", "(2, \\infty)", T), ("y = 2x + 1", "y = 1 + 2x", T), ("y = 2x + 1", "y = x + 2", F),
        ("y = 2x + 1", "2x + 1", N), ("x \\le 5", "x < 5", F), ("x \\le 5", "x \\leq 5", T),
        ("x \\le 5", "5 \\ge x", T), ("2x + 3y = 6", "3y + 2x = 6", T), ("2x + 3y = 6", "4x + 6y = 12", T),
        ("2x + 3y = 6", "2x + 3y = 5", F), ("y = -\\frac{1}{2}x + 4", "y = -0.5x + 4", T),
        ("y = -\\frac{1}{2}x + 4", "y = \\frac{1}{2}x + 4", F), ("x^2 + y^2 = 25", "x^2+y^2=25", T),
        ("x^2 + y^2 = 25", "x^2 + y^2 = 5", F), ("x = 2", "x = \\frac{4}{2}", T), ("k = 7", "7", T),
        ("a = 5", "b = 5", N), ("x \\neq 1", "x \\ne 1", T),
    ]
    for g, p, e in hand:
        b.add(c, g, p, e)
    for _ in range(26):
        kind = r.random()
        v = r.choice("xyabnk")
        n = r.randint(-15, 30)
        if kind < 0.35:
            if r.random() < 0.5:
                g, tp = f"{v} = {n}", str(n)
            else:
                g, tp = str(n), f"{v} = {n}"
            b.add(c, g, tp, T)
            b.add(c, g, r.choice([f"{v} = {n + 1}", str(-n) if n else "1", f"{v} = {n * 2 if n else 5}"]), F)
        elif kind < 0.65:
            m, k = r.randint(-5, 6) or 1, r.randint(-9, 9) or 2
            g = "y = " + lin_tex(m, k)
            b.add(c, g, "y = " + lin_tex(m, k, const_first=True), T)
            b.add(c, g, "y = " + (lin_tex(m + 1, k) if r.random() < 0.5 or k == m else lin_tex(k, m)), F)
        else:
            op, alt, rev, strict_flip = r.choice([(">", "<", "<", "\\ge"), ("<", ">", ">", "\\le"),
                                                  ("\\ge", "\\le", "\\le", ">"),
                                                  ("\\le", "\\ge", "\\ge", "<")])
            g = f"x {op} {n}"
            b.add(c, g, r.choice([f"{n} {rev} x", f"x{op}{n}"]), T)
            b.add(c, g, r.choice([f"x {strict_flip} {n}", f"x {op} {n + 1}", f"x {alt} {n}"]), F)


def degrees(b: Builder) -> None:
    c, r = "degrees", b.rng
    hand = [
        ("30^\\circ", "30", T), ("30^\\circ", "30^{\\circ}", T), ("30", "30^\\circ", T),
        ("30^\\circ", "\\frac{\\pi}{6}", T), ("\\frac{\\pi}{6}", "30^\\circ", T),
        ("30^\\circ", "30°", T), ("30^\\circ", "30 \\text{ degrees}", T),
        ("30^\\circ", "60^\\circ", F), ("30^\\circ", "150^\\circ", F),
        ("90^\\circ", "\\frac{\\pi}{2}", T), ("45^\\circ", "45^{\\circ}", T), ("45", "45°", T),
        ("120^\\circ", "120^\\circ", T), ("175^\\circ", "175\\degree", T), ("120^\\circ", "60", F), ("360^\\circ", "2\\pi", T),
        ("72^\\circ", "72 ^\\circ", T), ("22.5^\\circ", "22.5", T), ("22.5^\\circ", "22^\\circ", F),
        ("60^\\circ", "60", T), ("60^\\circ", "60^{\\circ}", T), ("15^\\circ", "15 ^{\\circ}", T),
    ]
    for g, p, e in hand:
        b.add(c, g, p, e)
    for _ in range(30):
        n = r.choice([r.randint(1, 179), r.choice([15, 30, 36, 45, 60, 72, 90, 120, 135, 150])])
        kind = r.random()
        if kind < 0.65:
            g = f"{n}^\\circ"
            tv = [str(n), f"{n}^{{\\circ}}", f"{n} \\text{{ degrees}}"]
            b.add(c, g, r.choice(tv), T)
            b.add(c, g, r.choice([str(180 - n) if n != 90 else "45", f"{n + 10}^\\circ",
                                  f"{n // 2}^{{\\circ}}" if n > 1 else "2^\\circ"]), F)
        else:
            g = str(n)
            b.add(c, g, r.choice([f"{n}^\\circ", f"{n}^{{\\circ}}"]), T)
            b.add(c, g, f"{n + r.choice([1, 5, 90])}^\\circ", F)


def units_text(b: Builder) -> None:
    c, r = "units_text", b.rng
    hand = [
        ("5", "5 \\text{ cm}", T), ("5 \\text{ cm}", "5", T), ("\\text{(A)}", "A", T),
        ("\\text{(A)}", "(A)", T), ("\\text{(A)}", "\\text{(A)}", T), ("\\text{(A)}", "\\textbf{(A)}", T),
        ("\\text{(A)}", "B", F), ("\\text{(A)}", "\\text{(B)}", F), ("\\text{(C)}", "C", T),
        ("\\text{Monday}", "Monday", T), ("\\text{Monday}", "\\text{Monday}", T),
        ("\\text{Monday}", "\\text{Tuesday}", F), ("\\text{Monday}", "monday", T),
        ("10\\text{ dollars}", "10", T), ("\\$10", "10", T), ("10", "\\$10", T), ("\\$10", "\\$10.00", T),
        ("\\$10", "\\$100", F), ("\\text{yes}", "yes", T), ("\\text{yes}", "\\text{Yes}", T),
        ("\\text{yes}", "\\text{no}", F), ("\\text{even}", "\\text{odd}", F),
        ("\\text{even}", "\\text{even}", T), ("\\text{Devon}", "\\text{Devon}", T),
        ("\\text{Devon}", "\\text{Evan}", F), ("\\text{(E)}", "E", T), ("\\text{(E)}", "D", F),
        ("6 \\text{ inches}", "6\\text{ in}", T), ("6 \\text{ inches}", "8 \\text{ inches}", F),
        ("5\\text{ cm}^2", "5", T), ("\\$1.50", "1.5", T), ("\\$1.50", "\\$15", F),
        ("12 \\mbox{ feet}", "12", T), ("\\text{north}", "\\text{south}", F),
    ]
    for g, p, e in hand:
        b.add(c, g, p, e)
    units = ["cm", "m", "inches", "feet", "square units", "cm}^2\\text{", "dollars", "minutes",
             "hours", "miles", "cents", "units"]
    for _ in range(22):
        n = r.randint(1, 500)
        u = r.choice(units)
        kind = r.random()
        if kind < 0.45:
            g = str(n)
            b.add(c, g, f"{n} \\text{{ {u}}}", T)
            b.add(c, g, f"{n + r.choice([1, 2, 10])} \\text{{ {u}}}", F)
        elif kind < 0.75:
            g = f"{n}\\text{{ {u}}}"
            b.add(c, g, r.choice([str(n), f"{n} \\text{{{u}}}"]), T)
            b.add(c, g, r.choice([str(n - 1), f"{n * 10}\\text{{ {u}}}"]), F)
        else:
            g = f"\\${n}"
            b.add(c, g, r.choice([str(n), f"\\${n}.00", f"{n} \\text{{ dollars}}"]), T)
            b.add(c, g, r.choice([f"\\${n + 1}", f"{n / 100:g}"]), F)


def pm(rows, env="pmatrix", sep=" & ", nl=" \\\\ "):
    body = nl.join(sep.join(str(x) for x in row) for row in rows)
    return f"\\begin{{{env}}} {body} \\end{{{env}}}"


def matrices(b: Builder) -> None:
    c, r = "matrices", b.rng
    hand = [
        (pm([[1, 2], [3, 4]]), pm([[1, 2], [3, 4]], sep="&", nl="\\\\"), T),
        (pm([[1, 2], [3, 4]]), pm([[1, 2], [3, 4]], env="bmatrix"), T),
        (pm([[1, 2], [3, 4]]), pm([[1, 3], [2, 4]]), F),
        (pm([[1, 2], [3, 4]]), pm([[1, 2], [3, 5]]), F),
        (pm([[1], [2]]), pm([[1], [2]], env="bmatrix"), T),
        (pm([[1], [2]]), pm([[2], [1]]), F), (pm([[1], [2], [3]]), "(1, 2, 3)", N),
        (pm([["\\frac{1}{2}", 0], [0, 1]]), pm([[0.5, 0], [0, 1]]), T),
        (pm([["\\frac{1}{2}", 0], [0, 1]]), pm([[2, 0], [0, 1]]), F),
        (pm([[1, 0], [0, 1]]), "I", N), (pm([[-1, 2], [3, -4]]), pm([[-1, 2], [3, -4]], env="bmatrix", sep="&"), T),
        (pm([[2, 4], [6, 8]]), "2" + pm([[1, 2], [3, 4]]), T),
        (pm([[1, 2, 3]]), pm([[1], [2], [3]]), F),
        (pm([["\\sqrt{2}"], [1]]), pm([["2^{1/2}"], [1]]), T),
    ]
    for g, p, e in hand:
        b.add(c, g, p, e)
    for _ in range(30):
        if r.random() < 0.6:
            rows = [[r.randint(-9, 9) for _ in range(2)] for _ in range(2)]
        else:
            rows = [[r.randint(-9, 9)] for _ in range(r.choice([2, 3]))]
        g = pm(rows)
        b.add(c, g, r.choice([pm(rows, env="bmatrix"), pm(rows, sep="&", nl="\\\\"),
                              pm(rows, sep=" &", nl="\\\\ ")]), T)
        bad = [row[:] for row in rows]
        i, j = r.randrange(len(bad)), r.randrange(len(bad[0]))
        bad[i][j] += r.choice([1, -1, 2])
        if len(rows[0]) == 2 and rows[0][1] != rows[1][0] and r.random() < 0.3:
            bad = [[rows[0][0], rows[1][0]], [rows[0][1], rows[1][1]]]
        b.add(c, g, pm(bad, env=r.choice(["pmatrix", "bmatrix"])), F)


def algebraic(b: Builder) -> None:
    import sympy as sp

    c, r = "algebraic", b.rng
    hand = [
        ("x^2+2x+1", "(x+1)^2", T), ("(x+1)^2", "x^2+2x+1", T), ("2x", "x+x", T),
        ("x^2-1", "(x-1)(x+1)", T), ("x+1", "\\frac{x^2-1}{x-1}", T), ("\\frac{x^2-1}{x-1}", "x+1", T),
        ("a^2-b^2", "(a-b)(a+b)", T), ("x+1", "x-1", F), ("\\frac{x+y}{xy}", "\\frac{1}{x}+\\frac{1}{y}", T),
        ("\\frac{1}{x}+\\frac{1}{y}", "\\frac{1}{x+y}", F), ("2^{x+1}", "2\\cdot 2^x", T),
        ("2^{x+1}", "2^x+1", F), ("|x|", "\\sqrt{x^2}", T), ("x", "\\sqrt{x^2}", F),
        ("x^2+2x+1", "x^2+2x-1", F), ("3x^2", "3x^{2}", T), ("3x^2", "(3x)^2", F),
        ("\\frac{x}{2}", "\\frac{1}{2}x", T), ("\\frac{x}{2}", "0.5x", T), ("\\frac{x}{2}", "\\frac{2}{x}", F),
        ("x^3", "x\\cdot x\\cdot x", T), ("x^3", "3x", F), ("\\log_2 8", "3", T), ("e^{2\\ln x}", "x^2", T),
        ("\\sin^2 x + \\cos^2 x", "1", T), ("2\\sin x\\cos x", "\\sin 2x", T), ("\\sin x", "\\cos x", F),
        ("(a+b)^2", "a^2+b^2", F), ("(a+b)^2", "a^2+2ab+b^2", T), ("4x^2-9", "(2x-3)(2x+3)", T),
        ("4x^2-9", "(4x-3)(x+3)", F), ("\\frac{1}{x^2}", "x^{-2}", T), ("ab", "ba", T),
        ("\\frac{a}{b}", "\\frac{b}{a}", F),
    ]
    for g, p, e in hand:
        b.add(c, g, p, e)
    x, y = sp.symbols("x y")

    def lin(var=x, other=None):
        a = r.choice([1, 1, 2, 3, -1, -2])
        k = r.choice([v for v in range(-6, 7) if v])
        return a * var + k * (other if other is not None else 1)

    def tex(e):
        return sp.latex(e).replace("\\left", "").replace("\\right", "")

    for _ in range(20):
        if r.random() < 0.75:
            factors = [lin() for _ in range(r.choice([2, 2, 3]))]
        else:
            factors = [lin(x, y), lin(x, y)]
        fact = "".join(f"({tex(f)})" for f in factors)
        expd = sp.expand(sp.Mul(*factors))
        expd_s = tex(expd)
        if r.random() < 0.5:
            b.add(c, expd_s, fact, T)
        else:
            b.add(c, fact, expd_s, T)
        terms = sp.Add.make_args(expd)
        t = r.choice(terms)
        coeff, rest = t.as_coeff_Mul()
        delta = r.choice([1, -1, 2])
        wrong = expd - t + (coeff + delta) * rest
        if wrong == expd or sp.expand(wrong - expd) == 0:
            wrong = expd + 1
        b.add(c, fact if r.random() < 0.5 else expd_s, tex(sp.expand(wrong)), F)


def adversarial(b: Builder) -> None:
    c, r = "adversarial", b.rng
    hand = [
        ("12", "1/2", F), ("\\frac{1}{2}", "12", F), ("x+1", "x-1", F), ("\\{1,2\\}", "\\{1,2,3\\}", F),
        ("\\frac13", "0.333", F), ("12", "1.2", F), ("-3", "3", F), ("3", "-3", F),
        ("1000", "10^{3}", T), ("10^{3}", "1000", T), ("1000", "1e3", T), ("1000", "10^3", T),
        ("\\frac{1}{2}", "\\frac{2}{1}", F), ("2", "\\frac{2}{1}", T), ("5", "", F),
        ("\\frac{1}{2}", "0.5", T), ("1024", "2^{10}", T), ("2", "\\sqrt{4}", T), ("3", "-(-3)", T),
        ("2", "\\frac{6}{3}", T), ("7", "7.0000001", F), ("0", "0.0000001", F),
        ("1", "0.999999999", F), ("1", "0.\\overline{9}", T), ("100", "100.0", T),
        ("6", "3!", T), ("6", "3", F), ("\\infty", "\\infty", T), ("\\infty", "-\\infty", F),
        ("\\infty", "\\text{undefined}", F), ("0", "\\text{none}", F), ("2", "2,3", F),
        ("2, 3", "2", F), ("13", "1, 3", F), ("1,3", "13", F), ("1,000", "1", F),
        ("\\frac{1}{4}", "\\frac14", T), ("14", "\\frac14", F), ("\\sqrt{2}", "\\sqrt{3}", F),
        ("10", "10\\%", N), ("2", "x^2", F), ("x", "y", F), ("e", "2.718", F), ("e", "e^1", T),
        ("\\frac{1}{2}", "\\frac{3}{6}", T), ("1,000", "1000", T), ("-\\frac{1}{2}", "-0.5", T),
        ("2", "2.0", T), ("3", "\\sqrt{9}", T), ("12", "12.00", T), ("3", "+3", T), ("x^2", "x^{2}", T),
        ("0", "-0", T), ("\\frac{4}{2}", "2", T),
    ]
    for g, p, e in hand:
        b.add(c, g, p, e, "boxed")
    for g, p, e in [("5", "\\boxed{}", F), ("5", "I don't know.", F), ("5", "The answer cannot be determined.", F),
                    ("7", "\\boxed{\\text{no answer}}", F), ("0", "\\boxed{ }", F),
                    ("5", "There are five apples.", T), ("3", "$$", F)]:
        b.raw(c, g, p, e)
    for _ in range(18):
        p, q = r.randint(1, 9), r.randint(2, 9)
        if p == q:
            q += 1
        kind = r.randrange(4)
        if kind == 0:
            b.add(c, f"{p}{q}", f"{p}/{q}", F)
            b.add(c, f"\\frac{{{p}}}{{{q}}}", f"{p}/{q}", T)
        elif kind == 1:
            b.add(c, f"\\frac{{{p}}}{{{q}}}", f"\\frac{{{q}}}{{{p}}}", F)
            b.add(c, f"\\frac{{{p}}}{{{q}}}", f"\\frac{{{2 * p}}}{{{2 * q}}}", T)
        elif kind == 2:
            b.add(c, f"{p}{q}", f"{p}.{q}", F)
            b.add(c, f"{p}{q}", f"{p}{q}.0", T)
        else:
            b.add(c, str(10 ** p), f"10^{{{p}}}", T)
            b.add(c, str(10 ** p), f"10^{{{p + 1}}}", F)


def extraction(b: Builder) -> None:
    c, r = "extraction", b.rng
    hand = [
        # several boxes: the last one is the answer
        ("8", "At first I got $\\boxed{7}$, but that double counts. Correcting, the answer is $\\boxed{8}$.", T),
        ("7", "At first I got $\\boxed{7}$, but that double counts. Correcting, the answer is $\\boxed{8}$.", F),
        ("\\frac{1}{2}", "\\boxed{\\frac{1}{3}} is wrong; the answer is \\boxed{\\frac{1}{2}}", T),
        # \fbox
        ("12", "The answer is $\\fbox{12}$.", T), ("12", "\\fbox{13}", F),
        ("46", "Plugging in $39$ gives the answer \\fbox{46}.", T),
        # "The final answer is" vs boxes
        ("5", "So $x = \\boxed{5}$.\n\nThe final answer is $5$. I hope it is correct.", T),
        ("5", "We find $\\boxed{4}$.\n\nThe final answer is $5$.", N),
        ("4", "We find $\\boxed{4}$.\n\nThe final answer is $5$.", N),
        ("5", "The final answer is 5", T), ("5", "Final Answer: The final answer is $5$. I hope it is correct.", T),
        # plain last expression at the end of a sentence
        ("7", "We get $3 + 4 = 7$, so the answer is 7.", T), ("3", "We get $3 + 4 = 7$, so the answer is 7.", F),
        ("15", "Adding these gives 15.", T), ("15", "Then 3 times 5 is 15 apples in total.", T),
        ("9", "Therefore there are 9 ways.", T), ("9", "Therefore there are 8 ways, not 9.", F),
        # nested braces inside the box
        ("\\frac{\\sqrt{3}}{2}", "\\boxed{\\frac{\\sqrt{3}}{2}}", T),
        ("\\frac{\\sqrt{3}}{2}", "\\boxed{\\frac{\\sqrt{3}}{3}}", F),
        ("\\{1, \\frac{1}{2}\\}", "\\boxed{\\left\\{\\frac{1}{2}, 1\\right\\}}", T),
        ("2^{10}", "\\boxed{2^{\\{10\\}}}", N), ("x^{2}+1", "\\boxed{x^{2}+{1}}", T),
        ("\\frac{1}{2}", "\\boxed{{\\frac{1}{2}}}", T),
        # box forms
        ("5", "$\\boxed{5}$", T), ("5", "\\boxed 5", T), ("5", "\\boxed{5}.", T), ("5", "\\boxed{x = 5}", T),
        ("5", "\\boxed{5}\\text{ apples}", T), ("5", "$\\boxed{\\text{5}}$", T),
        ("5", "**Answer:** 5", T), ("\\frac{3}{4}", "Answer: $\\frac{3}{4}$", T),
        ("\\frac{3}{4}", "Answer: $\\frac{4}{3}$", F), ("-2", "So $x=-2$.", T), ("-2", "So $x = 2$.", F),
        ("10", "$$\\boxed{10}$$", T), ("10", "\\[ \\boxed{10} \\]", T), ("10", "\\(\\boxed{10}\\)", T),
        ("10", "The area is $10$ square units.", T), ("10", "The area is $100$ square units.", F),
        ("6", "Since $2 \\cdot 3 = 6$, we conclude $\\boxed{6}$.", T),
        ("2", "Since $2 \\cdot 3 = 6$, we conclude $\\boxed{6}$.", F),
        ("4", "The answer is \\boxed{4}, as $4^2 = 16$.", T),
        ("16", "The answer is \\boxed{4}, as $4^2 = 16$.", F),
        ("5", "$\\boxed{4}$", F), ("5", "The final answer is $6$. I hope it is correct.", F),
        ("\\frac{3}{4}", "\\boxed{\\frac{3}{5}}", F), ("10", "$$\\boxed{11}$$", F), ("5", "**Answer:** 6", F),
        ("12", "The answer is $\\fbox{21}$.", F), ("x^{2}+1", "\\boxed{x^{2}-{1}}", F),
        ("\\{1, \\frac{1}{2}\\}", "\\boxed{\\left\\{\\frac{1}{2}, 2\\right\\}}", F),
    ]
    for g, p, e in hand:
        b.raw(c, g, p, e)
    for _ in range(22):
        a, z = r.sample(range(2, 60), 2)
        kind = r.randrange(6)
        if kind == 0:
            p = f"I first got $\\boxed{{{a}}}$. Wait, that's wrong. Recomputing gives $\\boxed{{{z}}}$."
        elif kind == 1:
            p = f"So $n = {a}$ is too small, and the answer is $n = {z}$."
        elif kind == 2:
            p = f"Thus the total is ${a} + {z - a} = {z}$.\n\nThe final answer is ${z}$. I hope it is correct."
        elif kind == 3:
            p = f"Plugging in ${a}$ gives the answer $\\fbox{{{z}}}$."
        elif kind == 4:
            p = f"Checking $x={a}$ fails, so the answer must be $\\boxed{{\\dfrac{{{z}}}{{1}}}}$."
        else:
            p = f"Therefore, the answer is ${z}$."
        b.raw(c, str(z), p, T)
        b.raw(c, str(a), p, F)


# --------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--suspicious", action="store_true",
                    help="list pairs where math-verify's label differs from the intended one")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    import math_verify  # noqa: F401
    from importlib.metadata import version
    from math_verify import parse, verify

    start = time.time()
    b = Builder(random.Random(SEED))
    for cat in CATEGORIES:
        globals()[cat](b)

    def has_sympy(res) -> bool:
        return any(not isinstance(v, str) for v in res)

    gold_cache: dict[str, list] = {}
    boxed_fallback: list[str] = []
    unparsable: list[str] = []
    forms_differ: list[str] = []

    def parse_gold(g: str):
        if g not in gold_cache:
            a = parse("$" + g + "$")
            bx = parse("\\boxed{" + g + "}")
            if [str(v) for v in a] != [str(v) for v in bx]:
                forms_differ.append(g)
            if not has_sympy(a) and has_sympy(bx):
                boxed_fallback.append(g)
                a = bx
            elif not has_sympy(a):
                unparsable.append(g)
            gold_cache[g] = a
        return gold_cache[g]

    rows = []
    mismatches = []
    for cat, gold, pred, exp in b.items:
        label = bool(verify(parse_gold(gold), parse(pred)))
        rows.append({"category": cat, "prediction": pred, "gold": gold, "label": label})
        if exp is not None and exp != label:
            mismatches.append((cat, gold, pred, exp, label))

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")

    counts = Counter((r["category"], r["label"]) for r in rows)
    print(f"math-verify {version('math-verify')}, latex2sympy2_extended "
          f"{version('latex2sympy2_extended')}, sympy {version('sympy')}")
    print(f"{'category':<24}{'true':>6}{'false':>7}{'total':>7}")
    for cat in CATEGORIES:
        t, fl = counts[(cat, True)], counts[(cat, False)]
        print(f"{cat:<24}{t:>6}{fl:>7}{t + fl:>7}")
    nt = sum(r["label"] for r in rows)
    print(f"{'TOTAL':<24}{nt:>6}{len(rows) - nt:>7}{len(rows):>7}")
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out} "
          f"({args.out.stat().st_size} bytes) in {time.time() - start:.1f} s")
    if forms_differ:
        print(f"golds where parse('$g$') != parse('\\\\boxed{{g}}'): {forms_differ}")
    if boxed_fallback:
        print(f"golds parsed only in \\boxed{{}} form (boxed form used): {boxed_fallback}")
    if unparsable:
        print(f"golds math-verify could not parse in either form: {unparsable}")
    if args.suspicious:
        print(f"\n{len(mismatches)} pairs where math-verify differs from the intended label:")
        for cat, gold, pred, exp, label in mismatches:
            print(f"  [{cat}] gold={gold!r} pred={pred!r} intended={exp} math-verify={label}")
    bad = [cat for cat in CATEGORIES if not counts[(cat, True)] or not counts[(cat, False)]]
    if bad:
        print(f"ERROR: categories without both labels: {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
