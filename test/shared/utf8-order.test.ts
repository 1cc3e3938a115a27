/** compareUtf8 must agree with comparing the UTF-8 bytes, surrogate pairs and U+E000–U+FFFF included. */
import { expect, it } from "vitest";
import { compareUtf8, sortByUtf8 } from "../../src/shared/utf8-order.js";

const bytes = (a: string, b: string) => Math.sign(Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8")));

it("orders like the UTF-8 bytes", () => {
  const alphabet = ["a", "b", "/", "~", "\u007f", "é", "\u0800", "\ud7ff", "\ue000", "\uffff", "😀", "𐀀", "\u{10ffff}"];
  const pick = (n: number) =>
    Array.from({ length: n }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join("");
  for (let i = 0; i < 20_000; i++) {
    const a = pick(1 + (i % 5));
    const b = pick(1 + ((i * 7) % 5));
    expect([a, b, Math.sign(compareUtf8(a, b))]).toEqual([a, b, bytes(a, b)]);
  }
  // The case plain `<` gets wrong: an astral character (surrogates in UTF-16) after U+FFFF in UTF-8.
  expect(Math.sign(compareUtf8("😀", "\uffff"))).toBe(1);
  expect("😀" < "\uffff").toBe(true);
});

it("sorts by UTF-8 order, with or without characters from U+D800 up", () => {
  const ascii = ["b", "a/", "a", "ab", "~", "A"];
  expect(sortByUtf8([...ascii], (s) => s)).toEqual([...ascii].sort((a, b) => bytes(a, b)));
  const mixed = ["😀", "\uffff", "z", "\ue000", "é"];
  expect(sortByUtf8([...mixed], (s) => s)).toEqual(["z", "é", "\ue000", "\uffff", "😀"]);
});
