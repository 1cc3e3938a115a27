/** SQL contract — transactional JavaScript scripts: results, rollback, limits, isolation from the host. */
import { describe, expect, it } from "vitest";
import type { Envelope } from "../../src/shared/errors.js";
import type { SqlQuirks, SqlTarget } from "./contract.js";

/** The target and the one-line calls the main contract file makes, for the script cases. */
export interface SqlCalls {
  readonly t: SqlTarget;
  quirks: SqlQuirks;
  query(sql: string, ps?: unknown[]): Promise<Array<Record<string, unknown>>>;
  exec(sql: string, ps?: unknown[]): Promise<bigint | undefined>;
  batch(stmts: Array<[string, unknown[]?]>): unknown;
  script(code: string, input?: unknown, inputJson?: string): Promise<{ result: unknown; queries: bigint | undefined }>;
  failure(p: unknown): Promise<Envelope>;
}

export function describeScriptContract(s: SqlCalls) {
  const { query, exec, script, failure, quirks } = s;
  describe("scripts", () => {
    const transfer = `export default function (input) {
      const from = sql.query("SELECT balance FROM accounts WHERE id = $1", [input.from]);
      if (from.length === 0) throw new Error("no account " + input.from);
      if (from[0].balance < input.amount) throw new Error("Insufficient funds");
      sql.execute("UPDATE accounts SET balance = balance - $1 WHERE id = $2", [input.amount, input.from]);
      sql.execute("UPDATE accounts SET balance = balance + $1 WHERE id = $2", [input.amount, input.to]);
      return { moved: input.amount };
    }`;
    const balances = async () => (await query("SELECT id, balance FROM accounts ORDER BY id")).map((r) => r.balance);

    it("moves funds in one transaction (the fund-transfer script)", async () => {
      await exec("INSERT INTO accounts (id, balance) VALUES (1, 100), (2, 50)");
      expect(await script(transfer, { from: 1, to: 2, amount: 30 })).toEqual({ result: { moved: 30 }, queries: 3n });
      expect(await balances()).toEqual([70n, 80n]);
    });

    it("rolls back and reports 422 on insufficient funds", async () => {
      const err = await failure(script(transfer, { from: 2, to: 1, amount: 1000 }));
      expect(err).toMatchObject({ code: "SCRIPT_ERROR", status: 422, error: "Insufficient funds" });
      expect(await balances()).toEqual([70n, 80n]);
    });

    it("rolls back writes made before a throw, and names the failing query", async () => {
      const err = await failure(
        script(`sql.execute("UPDATE accounts SET balance = 0 WHERE id = 1");
                sql.execute("INSERT INTO accounts (id, balance) VALUES (2, 1)");`),
      );
      expect(err).toMatchObject({
        status: 422,
        query_index: 1,
        query: "INSERT INTO accounts (id, balance) VALUES (2, 1)",
        sqlstate: "23505",
      });
      expect(await balances()).toEqual([70n, 80n]);
    });

    it("fails the script when it catches a failed statement", async () => {
      const err = await failure(
        script(`sql.execute("UPDATE accounts SET balance = 0 WHERE id = 1");
                try { sql.query("SELECT * FROM no_such_table"); } catch (e) {}
                "done"`),
      );
      expect(err).toMatchObject({ status: 422, query_index: 1 });
      expect(await balances()).toEqual([70n, 80n]);
    });

    it.each([
      ["export default function", "export default function (input) { return input.n * 2 }"],
      ["export default arrow", "export default (input) => input.n * 2"],
      ["export default async function", "export default async function (input) { await null; return input.n * 2 }"],
      [
        "export default async arrow",
        "export default async (input) => (await sql.query('SELECT 2 AS two'))[0].two * input.n",
      ],
      ["a body with return", "const n = input.n; return n * 2;"],
      ["a body with await", "const r = await sql.query('SELECT 2 AS two'); return r[0].two * input.n"],
      ["a bare expression", "input.n * 2"],
      ["statements ending in an expression", "let x = input.n; x * 2"],
      ["a bare arrow function", "(input) => input.n * 2"],
    ])("runs %s", async (_name, code) => {
      expect((await script(code, { n: 21 })).result).toBe(42);
    });

    it("gives the script exact big integers, and takes BigInt results back", async () => {
      const r = await script(
        "return { sum: input.big + 1n, small: typeof input.small }",
        undefined,
        '{"big": 9223372036854775806, "small": 1}',
      );
      expect(r.result).toEqual({ sum: 9223372036854775807n, small: "number" });
      const q = await script("return sql.query('SELECT id FROM items WHERE id = $1', [input.id])[0].id", { id: 1 });
      expect(q.result).toBe(1);
      const big = await script(
        "const r = sql.query('SELECT id FROM items WHERE id = $1', [9223372036854775807n]); return r[0].id",
      );
      expect(big.result).toBe(9223372036854775807n);
    });

    it("has no fetch, fs, timers, process or modules", async () => {
      const r = await script(
        "[typeof fetch, typeof setTimeout, typeof process, typeof require, typeof std, typeof os].join()",
      );
      expect(r.result).toBe("undefined,undefined,undefined,undefined,undefined,undefined");
      const imp = await failure(script("import fs from 'fs'; export default () => fs"));
      expect(imp).toMatchObject({ status: 422 });
      const dyn = await failure(script("return await import('fs')"));
      expect(dyn).toMatchObject({ status: 422 });
    });

    it("reports syntax errors as 422", async () => {
      expect(await failure(script("this is not javascript ("))).toMatchObject({ code: "SCRIPT_ERROR", status: 422 });
    });

    it.each([
      ["time", "sql.execute('UPDATE accounts SET balance = 0'); while (true) {}", "timeout"],
      [
        "memory",
        "sql.execute('UPDATE accounts SET balance = 0'); const a = []; while (true) a.push('x'.repeat(4096) + a.length);",
        "memory",
      ],
      [
        "recursion",
        "sql.execute('UPDATE accounts SET balance = 0'); function f(n) { return f(n + 1) + 1 } f(0)",
        "stack",
      ],
    ])("stops a script over its %s limit, rolls back and keeps serving", async (_name, code, reason) => {
      const err = await failure(script(code));
      expect(err).toMatchObject({ code: "SCRIPT_ERROR", status: 422, reason });
      expect(await balances()).toEqual([70n, 80n]);
      expect((await script("1 + 1")).result).toBe(2);
    });

    it("keeps concurrent scripts from seeing each other's uncommitted writes", async () => {
      const writer = `sql.execute("INSERT INTO items (id, name) VALUES (500, 'uncommitted')"); ${quirks.blocking ? `sql.query(${JSON.stringify(quirks.blocking.sql)});` : ""} 1`;
      const reader = `sql.query("SELECT count(*) AS n FROM items WHERE id = 500")[0].n`;
      if (quirks.blocking) {
        const b = quirks.blocking;
        // The writer stops inside its transaction (after its INSERT) until the lock is released; the reader runs meanwhile.
        let w!: Promise<unknown>;
        await b.hold(async () => {
          w = script(writer);
          await waitFor(() => b.blocked());
          expect((await script(reader)).result).toBe(0);
        });
        expect(((await w) as { result: unknown }).result).toBe(1);
      } else {
        expect(quirks.serialTransactions).toBe(true);
        const [a, r] = await Promise.all([script(writer), script(reader)]);
        expect(a.result).toBe(1);
        // Transactions run one after another: the reader sees the row only if the writer had committed.
        expect([0, 1]).toContain(r.result);
      }
      expect((await script(reader)).result).toBe(1);
    });
  });
}

async function waitFor(check: () => Promise<boolean>, tries = 200) {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("condition not reached");
}
