"""A landing zone's worst day, through a full run: every file is read correctly or quarantined with a
specific reason, the rest is published, and every input is accounted for exactly once."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime

import polars as pl
import pytest

from flows.daily import daily_flow
from tasks.errors import PipelineError
from tasks.publish import lock_key
from tasks.storage import LocalStorage

pytestmark = pytest.mark.usefixtures("prefect_harness")

DAY = "2025-09-01"

# Distinct short news stories (distinct vocabulary, so dedup keeps them all apart).
STORIES = {
    "cafe": [
        "The owners of the Café “Zinc” in Lyon said on Monday that they would keep the old zinc counter — a relic from 1921 — when the building is restored next spring.",
        "Customers signed a petition after a rumour spread that the counter would be sold, and the mayor’s office received more than four thousand letters about it.",
        "The architect in charge of the work said the counter will be cleaned, polished and put back exactly where it stood, beside the window facing the market square.",
    ],
    "glacier": [
        "Scientists measuring the Rhône glacier in Switzerland reported that its tongue retreated by another forty metres during the hot summer.",
        "The team, which has wrapped parts of the ice in white blankets every year since 2010, said the blankets slowed melting near the ice grotto but could not stop the overall loss.",
        "Tourism officials in the valley plan to keep the grotto open for visitors until October, weather permitting.",
    ],
    "chess": [
        "A twelve-year-old from Chennai won the national junior chess championship on Sunday without losing a single game in eleven rounds.",
        "Her coach said she trains four hours a day after school and studies endgames on the bus, using a small magnetic board her grandfather gave her.",
        "She will represent the country at the world youth championship in Batumi, Georgia, in November.",
    ],
    "bridge": [
        "Engineers closed the old iron bridge over the Vltava to lorries on Thursday after inspectors found corrosion in two of its supporting beams.",
        "Cars and trams may still cross, but heavy traffic has been diverted to the ring road, adding about twenty minutes to deliveries in the city centre.",
        "The city council expects repairs to take eight months and to cost roughly three hundred million crowns.",
    ],
    "honey": [
        "Beekeepers in the Carpathian foothills expect a poor acacia honey harvest after late frosts damaged the blossom in April.",
        "Several cooperatives said their members collected less than half the usual amount, and prices at local markets have already climbed by a third.",
        "Agronomists advised keepers to move hives toward lime and sunflower fields for the rest of the season.",
    ],
    "arabic": [
        "افتتحت بلدية المدينة مكتبة عامة جديدة في الحي القديم يوم السبت بحضور عدد كبير من السكان والطلاب.",
        "وقال رئيس البلدية إن المكتبة تضم أكثر من عشرين ألف كتاب وقاعة للقراءة مفتوحة طوال أيام الأسبوع.",
        "وأضاف أن المشروع استغرق ثلاث سنوات بتمويل من التبرعات المحلية ومساهمة من وزارة الثقافة.",
    ],
    "japanese": [
        "東京都内の小学校で、地元の農家と協力して米作りを学ぶ授業が始まった。",
        "児童たちは春に田植えを行い、秋には自分たちで収穫した米を給食で味わう予定だという。",
        "校長は「食べ物がどこから来るのかを体で学んでほしい」と話している。",
    ],
    "lighthouse": [
        "Volunteers repainted the red and white lighthouse at Cape Sorrel over the weekend, the first full coat of paint it has had in fifteen years.",
        "The lighthouse has been automated since 1987, but a local society still opens its tower to visitors on summer afternoons and keeps a small museum in the keeper’s cottage.",
        "Members said the paint was donated by a shipyard in the harbour town across the bay.",
    ],
    "marathon": [
        "More than nine thousand runners finished the city marathon on Sunday despite a strong headwind along the seafront section of the course.",
        "The men’s race was won in two hours and nine minutes, while the women’s winner set a new course record by almost a minute.",
        "Organisers said ambulance crews treated a handful of runners for exhaustion, but nobody was seriously hurt.",
    ],
    "tram": [
        "The new tram line linking the university campus with the central railway station carried its first passengers on Friday morning.",
        "Trams will run every six minutes at peak times, and the transport authority hopes the line will take about eleven thousand car journeys a day off the roads.",
        "Students welcomed the service, although some complained that the last tram leaves the campus before midnight.",
    ],
    "orchard": [
        "Apple growers in the Vinschgau valley began picking a week early this year after a warm September ripened the fruit ahead of schedule.",
        "The growers' association said hail nets saved most of the crop from two storms in July, although some older orchards without nets lost a fifth of their apples.",
        "Pickers from neighbouring countries arrived by coach on Monday, and the first crates reached the cooperative's cold stores the same evening.",
    ],
}


def story(name: str) -> str:
    return "\n".join(STORIES[name]) + "\n"


def write_landing(root) -> dict[str, str]:
    """Writes the hostile files; returns file name -> expected outcome ('article' or a reason)."""
    root.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {
        "utf8 with spaces.txt": story("chess").encode("utf-8"),
        "bom-utf8.txt": b"\xef\xbb\xbf" + story("glacier").encode("utf-8"),
        "utf16-le.txt": story("bridge").encode("utf-16"),
        "utf16-be.txt": b"\xfe\xff" + story("honey").encode("utf-16-be"),
        "cp1252.txt": story("cafe").encode("cp1252"),
        "invalid-bytes.txt": story("lighthouse").encode("utf-8").replace(b"Volunteers", b"Volunt\xff\xfeers"),
        "controls.txt": story("marathon").replace(" the ", " the\x00 ", 2).replace("runners", "run\x07ners").encode(),
        "rtl-arabic.txt": story("arabic").encode("utf-8"),
        "cjk-日本語.txt": story("japanese").encode("utf-8"),
        "compressed.txt.gz": gzip.compress(story("tram").encode("utf-8")),
        "empty.txt": b"",
        "blank.txt": b" \n\t\n  ",
        "image.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
        "report.pdf": b"%PDF-1.7\n" + bytes(range(256)) * 8,
        "noise.bin": bytes((i * 7919) % 256 for i in range(4096)),
        "menu-only.txt": "Home\nWorld\nSport\nWeather\nSubscribe\n".encode(),
        "huge.txt": b"word " * 30_000,
        "bomb.txt.gz": gzip.compress(b"a" * (3 << 20)),
        "broken.txt.gz": b"\x1f\x8b\x08\x00 this is not really gzip",
        "one-long-line.txt": ("x" * 90_000).encode(),
        # A record whose page URL is malformed (an unclosed IPv6 bracket) is still an article.
        "bad-url.jsonl": json.dumps({"url": "http://[bad/orchard", "title": "Early apple harvest", "text": story("orchard")}).encode(),
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    return {
        **{n: "article" for n in files if n.endswith((".txt", ".gz", ".jsonl")) and not n.startswith(("empty", "blank", "menu", "huge", "bomb", "broken", "one-long"))},
        "empty.txt": "empty_file",
        "blank.txt": "empty_file",
        "image.png": "not_text",
        "report.pdf": "not_text",
        "noise.bin": "not_text",
        "menu-only.txt": "no_article_text",
        "huge.txt": "too_large",
        "bomb.txt.gz": "too_large",
        "broken.txt.gz": "bad_gzip",
        "one-long-line.txt": "no_article_text",
    }


LIMITS = {"read": {"max_file_bytes": 100_000, "max_decompressed_bytes": 1 << 20}, "validation": {"max_quarantine_share": 0.7}}


def outcomes(articles: pl.DataFrame, quarantine: pl.DataFrame, duplicates: pl.DataFrame) -> dict[str, str]:
    seen: dict[str, str] = {}
    for frame, label in ((articles, None), (duplicates, "duplicate")):
        for uri in frame["source_uri"]:
            name = uri.rsplit("/", 1)[-1]
            assert name not in seen, f"{name} published twice"
            seen[name] = label or "article"
    for row in quarantine.iter_rows(named=True):
        name = row["source_uri"].rsplit("/", 1)[-1]
        assert name not in seen, f"{name} both published and quarantined"
        seen[name] = row["reasons"][0].split(" (")[0]
    return seen


def check_bodies(articles: pl.DataFrame) -> None:
    bodies = {uri.rsplit("/", 1)[-1]: body for uri, body in articles.select("source_uri", "body").iter_rows()}
    assert "Café “Zinc”" in bodies["cp1252.txt"] and "— a relic from 1921 —" in bodies["cp1252.txt"]
    assert bodies["bom-utf8.txt"].startswith("Scientists measuring the Rhône glacier")
    assert "\x00" not in bodies["controls.txt"] and "runners" in bodies["controls.txt"]
    assert "東京都内の小学校" in bodies["cjk-日本語.txt"]
    assert "افتتحت بلدية المدينة" in bodies["rtl-arabic.txt"]
    assert "\ufffd" in bodies["invalid-bytes.txt"]  # decoded with replacement, not dropped


def test_hostile_landing_zone_to_a_local_folder(tmp_path):
    expected = write_landing(tmp_path / "landing")
    dest = tmp_path / "lake"
    manifest = daily_flow(source=str(tmp_path / "landing"), dest=str(dest), date=DAY, overrides=LIMITS)

    read = lambda name: pl.read_parquet(f"{dest}/{name}/**/*.parquet")  # noqa: E731
    articles, quarantine, duplicates = read("articles"), read("quarantine"), read("duplicates")
    assert outcomes(articles, quarantine, duplicates) == expected
    counts = manifest["counts"]
    assert counts["inputs"] == len(expected) == counts["articles"] + counts["duplicates"] + counts["quarantine"]
    check_bodies(articles)
    assert manifest["read_warnings"] == [f"{tmp_path / 'landing' / 'invalid-bytes.txt'}: invalid_bytes_replaced (utf-8)"]
    huge = quarantine.filter(pl.col("source_uri").str.ends_with("huge.txt")).row(0, named=True)
    assert "max_file_bytes" in huge["reasons"][0] and huge["excerpt"] is None  # refused unread


def test_hostile_landing_zone_on_s3(tmp_path, s3_client, s3_endpoint):
    expected = write_landing(tmp_path / "landing")
    s3_client.create_bucket(Bucket="hostile-landing")
    s3_client.create_bucket(Bucket="hostile-lake")
    for path in (tmp_path / "landing").iterdir():
        s3_client.upload_file(str(path), "hostile-landing", f"in/{DAY}/{path.name}")
    # Keys that would be dangerous as local paths are read by their exact key.
    s3_client.put_object(Bucket="hostile-landing", Key=f"in/{DAY}/../escape attempt.txt", Body=story("chess").encode())
    # ... and it holds the same text as "utf8 with spaces.txt": one of the two is kept.
    pair = ("utf8 with spaces.txt", "escape attempt.txt")

    manifest = daily_flow(source="s3://hostile-landing/in/{date}", dest="s3://hostile-lake/x", date=DAY, overrides=LIMITS)

    options = {"aws_endpoint_url": s3_endpoint, "aws_allow_http": "true", "aws_region": "us-east-1"}
    read = lambda name: pl.read_parquet(f"s3://hostile-lake/x/{name}/**/*.parquet", storage_options=options)  # noqa: E731
    articles, quarantine, duplicates = read("articles"), read("quarantine"), read("duplicates")
    seen = outcomes(articles, quarantine, duplicates)
    assert sorted(seen.pop(name) for name in pair) == ["article", "duplicate"]
    assert seen == {name: outcome for name, outcome in expected.items() if name not in pair}
    assert manifest["counts"]["inputs"] == len(expected) + 1
    published = pl.concat([articles["source_uri"], duplicates["source_uri"]])
    assert f"s3://hostile-landing/in/{DAY}/../escape attempt.txt" in published.to_list()
    check_bodies(articles)
    assert not (tmp_path.parent / "escape attempt.txt").exists()


def test_a_second_run_of_the_same_date_is_refused_while_the_first_holds_the_lock(seeds_dir, tmp_path):
    dest = LocalStorage(tmp_path / "lake")
    holder = {"run_id": "still-running", "acquired_at": datetime.now(UTC).isoformat()}
    dest.write(lock_key(date.fromisoformat(DAY)), json.dumps(holder).encode())
    with pytest.raises(PipelineError, match="being published by run still-running"):
        daily_flow(source=str(seeds_dir), dest=dest.root, date=DAY)
    assert not (tmp_path / "lake" / "articles").exists()
