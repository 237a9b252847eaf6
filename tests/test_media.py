"""Case photos (gridgov.media): content checks, EXIF time and place, stripped served copies,
content-addressed storage, and photos in backup/restore.

Pillow makes every image in memory; only the backup test needs the database.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from datetime import datetime

import pytest
from PIL import ExifTags, Image, ImageCms, ImageFile

from gridgov import media
from gridgov.backup import backup, media_archive, restore
from gridgov.errors import InputError, InvalidParameter, NotFound
from gridgov.media import SHANGHAI, open_served, original_path, store, thumbnail_path
from gridgov.settings import MediaSettings

# 中阳县 seat: 37°21'28.8" N, 111°10'58.8" E
LAT_DMS, LON_DMS = (37.0, 21.0, 28.8), (111.0, 10.0, 58.8)
LAT, LON = 37 + 21 / 60 + 28.8 / 3600, 111 + 10 / 60 + 58.8 / 3600

Image.init()  # every plugin registered: a HEIF opener, if installed, shows in Image.OPEN
READS_HEIF = "HEIF" in Image.OPEN


@pytest.fixture
def settings(tmp_path) -> MediaSettings:
    return MediaSettings(dir=tmp_path / "media")


def two_colour(size=(40, 20)) -> Image.Image:
    """Left half red, right half blue: shows which way the image was turned."""
    im = Image.new("RGB", size, (255, 0, 0))
    im.paste((0, 0, 255), (size[0] // 2, 0, size[0], size[1]))
    return im


def encode(im: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **options)
    return buf.getvalue()


def phone_jpeg(taken="2026:03:14 09:26:53", offset=None, orientation=6, lat_ref="N",
               lon_ref="E") -> bytes:
    """A JPEG as a phone writes it: EXIF time, GPS, orientation, plus XMP, a comment and an
    ICC profile that must all be gone from the served copy."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Xiaomi"
    exif[ExifTags.Base.Orientation] = orientation
    ifd = exif.get_ifd(ExifTags.IFD.Exif)
    ifd[ExifTags.Base.DateTimeOriginal] = taken
    if offset:
        ifd[ExifTags.Base.OffsetTimeOriginal] = offset
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef], gps[ExifTags.GPS.GPSLatitude] = lat_ref, LAT_DMS
    gps[ExifTags.GPS.GPSLongitudeRef], gps[ExifTags.GPS.GPSLongitude] = lon_ref, LON_DMS
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return encode(two_colour(), "JPEG", exif=exif, icc_profile=icc,
                  comment=b"resident 13800001111", xmp=b"<x:xmpmeta>13800001111</x:xmpmeta>")


def refusal(excinfo) -> str:
    """The one problem of an InputError, checked to be about the field 'photo'."""
    (problem,) = excinfo.value.problems
    assert problem.field == "photo" and problem.row is None
    return problem.message


# --- EXIF, served copy ---------------------------------------------------------------------------

def test_phone_jpeg_time_place_and_stripped_served_copy(settings):
    raw = phone_jpeg()
    photo = store(raw, name="IMG_0001.jpg", settings=settings)

    assert photo.sha256 == hashlib.sha256(raw).hexdigest()
    assert photo.media_type == "image/jpeg" and photo.bytes == len(raw)
    assert photo.path == media.root(settings) / photo.sha256[:2] / f"{photo.sha256}.jpg"
    assert photo.path.read_bytes() == raw  # the original kept byte for byte, EXIF and all
    # a naive EXIF time is Beijing time
    assert photo.taken_at == datetime(2026, 3, 14, 9, 26, 53, tzinfo=SHANGHAI)
    assert photo.taken_at.utcoffset().total_seconds() == 8 * 3600
    assert photo.lat == pytest.approx(LAT, abs=1e-9) and photo.lon == pytest.approx(LON, abs=1e-9)
    # orientation 6: stored 40 × 20, shown 20 × 40
    assert (photo.width, photo.height) == (20, 40)

    served_bytes = open_served(photo.sha256, settings=settings).read_bytes()
    served = Image.open(io.BytesIO(served_bytes))
    assert served.format == "JPEG" and served.size == (20, 40)
    assert len(served.getexif()) == 0
    for key in ("exif", "xmp", "comment", "icc_profile"):
        assert key not in served.info, key
    # nothing of it in the bytes either (APP1 Exif/XMP, COM, APP2 ICC)
    for marker in (b"Exif", b"xmpmeta", b"13800001111", b"ICC_PROFILE", b"Xiaomi"):
        assert marker not in served_bytes, marker
    # turned upright: the red left half is now on top
    red, blue = served.getpixel((10, 5)), served.getpixel((10, 35))
    assert red[0] > 200 > red[2] and blue[2] > 200 > blue[0]


def test_offset_time_and_southern_western_refs(settings):
    photo = store(phone_jpeg(taken="2026:03:14 01:26:53", offset="+00:00", lat_ref="S",
                             lon_ref="W", orientation=1), settings=settings)
    # the same instant, shown in Beijing time
    assert photo.taken_at == datetime(2026, 3, 14, 9, 26, 53, tzinfo=SHANGHAI)
    assert str(photo.taken_at.tzinfo) == "Asia/Shanghai"
    assert photo.lat == pytest.approx(-LAT) and photo.lon == pytest.approx(-LON)
    assert (photo.width, photo.height) == (40, 20)


def test_no_exif_gives_none(settings):
    photo = store(encode(two_colour(), "JPEG"), settings=settings)
    assert (photo.taken_at, photo.lon, photo.lat) == (None, None, None)


def test_thumbnail_at_most_640_px(settings):
    photo = store(encode(two_colour((1600, 900)), "JPEG"), settings=settings)
    with Image.open(thumbnail_path(photo.sha256, settings=settings)) as thumb:
        assert thumb.size == (640, 360)
        assert len(thumb.getexif()) == 0


# --- formats, storage ----------------------------------------------------------------------------

@pytest.mark.parametrize("fmt, media_type, ext", [("PNG", "image/png", "png"),
                                                  ("WEBP", "image/webp", "webp")])
def test_png_and_webp_accepted(settings, fmt, media_type, ext):
    photo = store(encode(two_colour(), fmt), name=f"x.{ext}", settings=settings)
    assert (photo.media_type, photo.width, photo.height) == (media_type, 40, 20)
    assert photo.path.suffix == f".{ext}" and original_path(photo.sha256, settings) == photo.path
    with Image.open(open_served(photo.sha256, settings=settings)) as served:
        assert served.format == "JPEG" and served.size == (40, 20)


def test_transparent_png_served_on_white(settings):
    im = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    photo = store(encode(im, "PNG"), settings=settings)
    with Image.open(open_served(photo.sha256, settings=settings)) as served:
        assert min(served.getpixel((5, 5))) > 245


def test_same_bytes_stored_once(settings):
    raw = phone_jpeg()
    first = store(raw, settings=settings)
    mtime = first.path.stat().st_mtime_ns
    again = store(io.BytesIO(raw), settings=settings)  # a file object works too
    assert again == first
    assert first.path.stat().st_mtime_ns == mtime  # not even rewritten
    files = sorted(p.name for p in media.root(settings).rglob("*") if p.is_file())
    sha = first.sha256
    assert files == [f"{sha}.jpg", f"{sha}.served.jpg", f"{sha}.thumb.jpg"]


def test_missing_served_copy_is_rebuilt_from_the_original(settings):
    photo = store(phone_jpeg(), settings=settings)
    served = open_served(photo.sha256, settings=settings)
    served.unlink()
    assert open_served(photo.sha256, settings=settings) == served and served.is_file()
    assert len(Image.open(served).getexif()) == 0


def test_unknown_or_malformed_digest(settings):
    with pytest.raises(NotFound):
        open_served("0" * 64, settings=settings)
    with pytest.raises(NotFound):
        original_path("ab" * 32, settings=settings)
    for bad in ("../../etc/passwd", "0" * 63, "g" * 64):
        with pytest.raises(InvalidParameter):
            open_served(bad, settings=settings)


def test_nothing_left_behind_when_refused(settings):
    with pytest.raises(InputError):
        store(b"hello", settings=settings)
    assert not media.root(settings).exists() or not any(media.root(settings).rglob("*"))


# --- refusals ----------------------------------------------------------------------------------

def test_text_file_named_jpg_refused(settings):
    with pytest.raises(InputError) as excinfo:
        store("居民反映：路灯不亮\n".encode(), name="IMG_0002.jpg", settings=settings)
    assert "not a JPEG, PNG or WebP image" in refusal(excinfo)
    assert str(excinfo.value).startswith("IMG_0002.jpg, field 'photo': ")


def test_html_refused(settings):
    with pytest.raises(InputError) as excinfo:
        store(b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>",
              settings=settings)
    assert "not a JPEG, PNG or WebP image" in refusal(excinfo)


def test_other_image_formats_refused(settings):
    # a real GIF: an image, but not one of the photo formats
    with pytest.raises(InputError) as excinfo:
        store(encode(two_colour(), "GIF"), settings=settings)
    assert "not a JPEG, PNG or WebP image" in refusal(excinfo)


def test_truncated_jpeg_refused(settings, monkeypatch):
    # what a global LOAD_TRUNCATED_IMAGES = True would let through; the default must stand
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", False)
    raw = encode(Image.effect_noise((400, 300), 64).convert("RGB"), "JPEG")
    with pytest.raises(InputError) as excinfo:
        store(raw[: len(raw) // 2], settings=settings)
    assert "damaged or incomplete" in refusal(excinfo)


def test_damaged_png_refused(settings):
    raw = bytearray(encode(two_colour(), "PNG"))
    raw[60] ^= 0xFF  # inside the image data: the chunk's CRC no longer matches
    with pytest.raises(InputError) as excinfo:
        store(bytes(raw), settings=settings)
    assert "damaged or incomplete" in refusal(excinfo)


def test_empty_refused(settings):
    with pytest.raises(InputError) as excinfo:
        store(b"", settings=settings)
    assert refusal(excinfo) == "is empty"


def test_oversized_refused(tmp_path):
    small = MediaSettings(dir=tmp_path, max_mb=0.01)  # 10 KiB
    raw = encode(Image.effect_noise((300, 300), 64).convert("RGB"), "PNG")
    assert len(raw) > 10 * 1024
    with pytest.raises(InputError) as excinfo:
        store(raw, settings=small)
    assert "over the photo limit of 0.01 MB" in refusal(excinfo)
    # from a stream, too, without reading it all
    stream = io.BytesIO(raw)
    with pytest.raises(InputError):
        store(stream, settings=small)
    assert stream.tell() == int(0.01 * 1024 * 1024) + 1  # one byte past the limit


def test_decompression_bomb_refused_undecoded(settings, monkeypatch):
    # 8000 × 6000 = 48 megapixels in a few KB: over the 40-megapixel default
    raw = encode(Image.new("1", (8000, 6000)), "PNG")
    assert len(raw) < 100_000

    def no_decoding(self):
        raise AssertionError("the pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(InputError) as excinfo:
        store(raw, settings=settings)
    assert "too many pixels" in refusal(excinfo) and "8000 × 6000" in refusal(excinfo)


def test_bomb_over_pillows_own_limit_refused(tmp_path):
    # a PNG header claiming 30000 × 30000 (900 megapixels): Pillow's DecompressionBombError
    # fires in open(), before our (here raised) limit is looked at
    raw = bytearray(encode(Image.new("L", (1, 1)), "PNG"))
    ihdr = struct.pack(">II", 30000, 30000) + raw[24:29]
    raw[16:29] = ihdr
    raw[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    with pytest.raises(InputError) as excinfo:
        store(bytes(raw), settings=MediaSettings(dir=tmp_path, max_megapixels=10_000))
    assert "too many pixels" in refusal(excinfo)


@pytest.mark.skipif(READS_HEIF, reason="this Pillow has a HEIF opener")
def test_heic_refused_with_send_jpeg(settings):
    # the start of an iPhone HEIC: an ISO-BMFF ftyp box with the heic brand
    raw = struct.pack(">I", 24) + b"ftypheic" + b"\0\0\0\0" + b"mif1heic" + b"\0" * 200
    with pytest.raises(InputError) as excinfo:
        store(raw, name="IMG_0003.HEIC", settings=settings)
    assert "HEIC" in refusal(excinfo) and "JPEG" in refusal(excinfo)


# --- backup -----------------------------------------------------------------------------------

def test_photo_survives_backup_and_restore(databases, migrated_template, tmp_path):
    source_url = databases.create(migrated_template, "media_src")
    old, new = MediaSettings(dir=tmp_path / "old"), MediaSettings(dir=tmp_path / "new")
    photo = store(phone_jpeg(), settings=old)
    served = open_served(photo.sha256, settings=old).read_bytes()
    # an interrupted write's temporary file is not a photo and stays out of the backup
    (photo.path.parent / f".{photo.sha256}.jpg.x.tmp").write_bytes(b"half")

    dump = backup(source_url, tmp_path / "store.dump", media_dir=media.root(old))
    archive = media_archive(dump)
    assert archive == tmp_path / "store.media.tar" and archive.is_file()
    assert len(media.stored_files(media.root(old))) == 3

    restore(dump, databases.create("gridgov_template", "media_restored"),
            media_dir=media.root(new))
    assert original_path(photo.sha256, new).read_bytes() == photo.path.read_bytes()
    assert open_served(photo.sha256, settings=new).read_bytes() == served
    assert sorted(media.stored_files(media.root(new))) == media.stored_files(media.root(old))
    assert not list(media.root(new).rglob(".*"))

    # without photos: no tar, and a stale one of an earlier backup under that name goes
    backup(source_url, dump, media_dir=tmp_path / "none")
    assert dump.is_file() and not archive.exists()


def test_unpack_refuses_paths_outside(tmp_path):
    import tarfile

    bad = tmp_path / "bad.media.tar"
    with tarfile.open(bad, "w") as tar:
        info = tarfile.TarInfo("../../escape.jpg")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    with pytest.raises(InputError, match="not stored photos"):
        media.unpack(bad, tmp_path / "media")
    assert not (tmp_path / "media").exists() and not (tmp_path.parent / "escape.jpg").exists()
