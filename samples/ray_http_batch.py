"""Answer a workbench batch file with Ray Data, through servers you already run.

    python ray_http_batch.py requests.jsonl results.jsonl --url http://gpu1:8000/v1/chat/completions

Ray Data's HTTP processor (`ray.data.llm`, `pip install 'ray[data]' pydantic aiohttp`) POSTs
each line's body to --url, --concurrency requests at a time per actor, on a local Ray or on the
cluster `ray.init` joins (RAY_ADDRESS). Each result is written as OpenAI's Batch API writes an
output line, so `workbench batch read results.jsonl` reads it back. A body whose server answered
with an error is written with status 400 and the server's message; workbench keeps it as a failed
attempt and asks the paragraph again later.

Ray turns the rows into Arrow tables between its stages, so keys a body lacks but another has
(`seed` on retries) arrive as null: OpenAI-compatible servers read null as "not given". The same
happens to the responses (an answer gets `"error": null`, an error `"choices": null`), which
`workbench batch read` reads as they are meant.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("requests", help="the file `workbench batch write` wrote")
    parser.add_argument("results", help="where to write the results (JSONL)")
    parser.add_argument("--url", required=True, help="the server's …/v1/chat/completions")
    parser.add_argument("--concurrency", type=int, default=1, help="actors sending requests")
    parser.add_argument("--batch-size", type=int, default=16, help="rows an actor sends at once")
    parser.add_argument("--api-key", default=None, help="sent as a Bearer token")
    args = parser.parse_args()

    import ray
    from ray.data.llm import HttpRequestProcessorConfig, build_processor

    ray.init(ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else None
    config = HttpRequestProcessorConfig(
        url=args.url, headers=headers, concurrency=args.concurrency, batch_size=args.batch_size
    )

    def preprocess(row: dict[str, Any]) -> dict[str, Any]:
        line = json.loads(row["text"])  # read as text: each body exactly as written
        return {"custom_id": line["custom_id"], "payload": line["body"]}

    def postprocess(row: dict[str, Any]) -> dict[str, Any]:
        body = row["http_response"]  # Arrow gave every row every key: an error has choices null
        failed = not isinstance(body, dict) or not body.get("choices")
        return {
            "custom_id": row["custom_id"],
            "response": {"status_code": 400 if failed else 200, "body": json.dumps(body)},
        }

    processor = build_processor(config, preprocess=preprocess, postprocess=postprocess)
    dataset = processor(ray.data.read_text(args.requests))
    with Path(args.results).open("w", encoding="utf-8") as out:
        for row in dataset.iter_rows():
            response = dict(row["response"])
            response["body"] = json.loads(response["body"])
            out.write(json.dumps({"custom_id": row["custom_id"], "response": response}) + "\n")


if __name__ == "__main__":
    main()
