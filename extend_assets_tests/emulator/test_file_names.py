"""File names are names, not URLs: a ``?`` in one is part of the name (issue 16, defect 6)."""

from __future__ import annotations

from typing import Any

from extend_assets.client import ExtendClient
from extend_assets.emulator import SAMPLE_WORKFLOW_ID, EmulatorServer
from extend_assets.emulator.documents import extension_of, read_document
from extend_assets.emulator.records import name_from_url

INVOICE = b"INVOICE\nInvoice Number: Q-1\nTotal: 5.00 USD\n"


def test_a_question_mark_in_a_name_keeps_the_extension() -> None:
    assert extension_of("Why not?.txt") == ".txt"
    assert extension_of("invoice?v=2.pdf") == ".pdf"
    document = read_document("Paid? yes.txt", INVOICE)
    assert document.failure_code is None and document.file_type == "TXT"


def test_a_name_taken_from_a_url_drops_the_query_and_decodes_the_path() -> None:
    assert name_from_url("https://h/b/inv.pdf?X-Amz-Signature=abc") == "inv.pdf"
    assert name_from_url("https://h/b/what%3F.txt?X-Amz-Signature=abc") == "what?.txt"


def test_a_run_of_a_file_named_with_a_question_mark_is_processed(local_s3: Any) -> None:
    s3 = local_s3.boto3_client()
    s3.create_bucket(Bucket="qmark")
    s3.put_object(Bucket="qmark", Key="a.txt", Body=INVOICE)
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": "qmark", "Key": "a.txt"}, ExpiresIn=600
    )
    with EmulatorServer(port=0) as emu, ExtendClient(emu.api_key, base_url=emu.base_url) as client:
        (run,) = client.run_workflow(
            SAMPLE_WORKFLOW_ID, files=[{"fileUrl": url, "fileName": "Paid? yes.txt"}]
        )
        assert emu.wait_idle(120)
        done = client.get_workflow_run(run.id)
    assert done.status == "PROCESSED", done.failure_message
    assert done.files[0].name == "Paid? yes.txt" and done.files[0].type == "TXT"
