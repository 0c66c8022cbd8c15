"""One writer process of the reliability tests: refunds on hot deals, or whole new deals.

    python tests/reliability/writer.py --via http --url http://127.0.0.1:PORT --token T \
        --writer 3 --count 500 --deals 20 --seed 7 --out results.jsonl [--repeat 3 --give-up 0.3]

Each command is a DealRefunded with its own event_id (`w3-c17`), a deal chosen at random and an
amount of 1.00 to 3.00. `--via http` POSTs it to the API, `--via ledger` calls `Ledger.record`
(PERFLEDGER_DATABASE_URL). Every attempt's outcome is one JSON line:
{"event_id", "deal_id", "amount", "attempt", "outcome": accepted|conflict|rule|timeout|error,
 "status", "positions", "duplicates", "detail"}.
With `--repeat N`, each command is sent N times with the same event_id; with `--give-up S`, the
first attempt of every other command gives up after S seconds (a client time-out: the request
may still be recorded), and the next attempts are the client's retries.

`--kind deals`: each command is a batch of three events for a deal of its own (DealOpened,
DealWon 100.00, DealRefunded 10.00; event_ids `w3-c17-open`, `-won`, `-refund`), sent again and
again until it is answered 201 or 422 (a lost connection, a time-out, a 409 or a 503 is
retried), as a careful client does while API workers are being killed.
"""

from __future__ import annotations

import argparse
import http.client
import random
import sys
import time
from typing import Any
from urllib.parse import urlparse

import orjson

OUTCOME_OF_STATUS = {201: "accepted", 409: "conflict", 422: "rule", 503: "busy"}


def command(writer: int, k: int, rng: random.Random, deals: int) -> dict[str, Any]:
    deal = f"D-{rng.randrange(deals)}"
    amount = f"{rng.randint(1, 3)}.00"
    return {
        "type": "DealRefunded",
        "event_id": f"w{writer}-c{k}",
        "occurred_at": "2026-03-10T09:00:00+00:00",
        "data": {"deal_id": deal, "amount": amount, "reason": "returned"},
    }


def deal_batch(writer: int, k: int) -> dict[str, Any]:
    deal, key, when = f"D-w{writer}-{k}", f"w{writer}-c{k}", "2026-02-{:02d}T09:00:00+00:00"
    return {
        "events": [
            {
                "type": "DealOpened",
                "event_id": f"{key}-open",
                "occurred_at": when.format(1),
                "data": {"deal_id": deal, "rep_id": "R-1", "customer_id": f"C-{writer}-{k}"},
            },
            {
                "type": "DealWon",
                "event_id": f"{key}-won",
                "occurred_at": when.format(10),
                "data": {"deal_id": deal, "amount": "100.00"},
            },
            {
                "type": "DealRefunded",
                "event_id": f"{key}-refund",
                "occurred_at": when.format(20),
                "data": {"deal_id": deal, "amount": "10.00", "reason": "returned"},
            },
        ]
    }


class HttpClient:
    """One keep-alive connection; a time-out or a dropped connection opens a new one."""

    def __init__(self, url: str, token: str):
        parsed = urlparse(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.conn: http.client.HTTPConnection | None = None

    def post(self, envelope: dict[str, Any], timeout: float) -> dict[str, Any]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        self.conn.timeout = timeout
        if self.conn.sock is not None:
            self.conn.sock.settimeout(timeout)
        try:
            self.conn.request("POST", "/events", body=orjson.dumps(envelope), headers=self.headers)
            response = self.conn.getresponse()
            body = orjson.loads(response.read() or b"null")
        except TimeoutError:
            self.reset()
            return {"outcome": "timeout", "status": None}
        except (ConnectionError, http.client.HTTPException) as error:
            self.reset()
            return {"outcome": "error", "status": None, "detail": repr(error)}
        outcome = OUTCOME_OF_STATUS.get(response.status, "error")
        answer = {"outcome": outcome, "status": response.status}
        if outcome == "accepted":
            answer.update(positions=body["positions"], duplicates=body["duplicates"])
        else:
            answer["detail"] = body.get("detail") if isinstance(body, dict) else body
        return answer

    def reset(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = None


class LedgerClient:
    def __init__(self) -> None:
        from ledger.store import Ledger

        self.ledger = Ledger()

    def post(self, envelope: dict[str, Any], timeout: float) -> dict[str, Any]:
        from ledger.errors import ConflictError, InvalidBatch

        try:
            recorded = self.ledger.record([envelope], actor="reliability")
        except ConflictError as conflict:
            return {"outcome": "conflict", "status": 409, "detail": str(conflict)}
        except InvalidBatch as invalid:
            return {"outcome": "rule", "status": 422, "detail": str(invalid)}
        except Exception as error:  # noqa: BLE001 - the test fails on any of these: record them, do not stop
            return {"outcome": "error", "status": None, "detail": repr(error)}
        return {
            "outcome": "accepted",
            "status": 201,
            "positions": recorded.positions,
            "duplicates": recorded.duplicates,
        }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--via", choices=["http", "ledger"], required=True)
    parser.add_argument("--url", default="")
    parser.add_argument("--token", default="")
    parser.add_argument("--writer", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--deals", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--give-up", type=float, default=0.0)
    parser.add_argument("--kind", choices=["refunds", "deals"], default="refunds")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    client: Any = HttpClient(args.url, args.token) if args.via == "http" else LedgerClient()
    rng = random.Random(args.seed * 1000 + args.writer)
    with open(args.out, "wb", buffering=0) as out:
        if args.kind == "deals":
            send_deals_until_answered(client, args.writer, args.count, out)
        else:
            send_refunds(client, args, rng, out)
    return 0


def send_refunds(client: Any, args: argparse.Namespace, rng: random.Random, out: Any) -> None:
    for k in range(args.count):
        envelope = command(args.writer, k, rng, args.deals)
        for attempt in range(args.repeat):
            impatient = args.give_up > 0 and attempt == 0 and k % 2 == 0
            answer = client.post(envelope, args.give_up if impatient else 60.0)
            line = {
                "event_id": envelope["event_id"],
                "deal_id": envelope["data"]["deal_id"],
                "amount": envelope["data"]["amount"],
                "attempt": attempt,
                **answer,
            }
            out.write(orjson.dumps(line) + b"\n")


def send_deals_until_answered(client: Any, writer: int, count: int, out: Any, attempts: int = 50) -> None:
    for k in range(count):
        batch = deal_batch(writer, k)
        for attempt in range(attempts):
            answer = client.post(batch, 10.0)
            line = {"event_id": f"w{writer}-c{k}", "attempt": attempt, **answer}
            out.write(orjson.dumps(line) + b"\n")
            if answer["outcome"] in ("accepted", "rule"):
                break
            time.sleep(0.05 * (attempt + 1))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
