"""Photos of cases: residents' 随手拍 reports, handlers' before/after photos, the center's check
photos (and later members' check-ins).

Every photo is stored content-addressed under ``GRIDGOV_MEDIA_DIR`` (:class:`MediaSettings`):

- ``<dir>/<sha[:2]>/<sha>.<ext>``: the original, byte for byte, as evidence. It keeps its EXIF
  (time and place the photo was taken), so only admins may fetch it.
- ``<sha>.served.jpg``: the copy everybody else sees, re-encoded with no metadata at all (no EXIF,
  GPS, XMP, ICC profile or comment), turned upright first, in sRGB.
- ``<sha>.thumb.jpg``: the served copy at most 640 px on its long side, for lists.

``sha`` is the SHA-256 of the uploaded bytes, so the same photo sent twice is stored once, and a
file's name proves its content. Each file is written to a temporary file and renamed into
place, so a crash never leaves half a photo.

An upload is judged by its content, never its name or declared MIME type: it must be a JPEG, PNG
or WebP (HEIC only if this Pillow can read it, which plain Pillow cannot) that Pillow opens,
verifies and decodes, within the size and pixel limits. Anything else is refused with an
:class:`~gridgov.errors.InputError` on the field ``photo``.

Times and places come from EXIF: ``taken_at`` from DateTimeOriginal (with OffsetTimeOriginal if
present; a time without offset is Beijing time, as phones sold in China write it), ``lon`` and
``lat`` in decimal degrees from the GPS IFD. EXIF GPS is WGS-84 (the phone's GNSS fix), not the
GCJ-02 of Chinese web maps.

Example (a tiny PNG in a temporary media folder):

    >>> import io, tempfile
    >>> from PIL import Image
    >>> from gridgov.settings import MediaSettings
    >>> folder = tempfile.TemporaryDirectory()
    >>> settings = MediaSettings(dir=folder.name)
    >>> png = io.BytesIO()
    >>> Image.new("RGB", (64, 48), "green").save(png, "PNG")
    >>> photo = store(png.getvalue(), settings=settings)
    >>> photo.media_type, photo.width, photo.height, photo.taken_at, photo.lon
    ('image/png', 64, 48, None, None)
    >>> photo.path.relative_to(folder.name).as_posix() == f"{photo.sha256[:2]}/{photo.sha256}.png"
    True
    >>> open_served(photo.sha256, settings=settings).name == f"{photo.sha256}.served.jpg"
    True
    >>> store(png.getvalue(), settings=settings) == photo  # the same bytes: one file
    True
    >>> store(b"<html>not a photo</html>", name="IMG_0001.jpg", settings=settings)
    Traceback (most recent call last):
    ...
    gridgov.errors.InputError: IMG_0001.jpg, field 'photo': is not a JPEG, PNG or WebP image...
    >>> folder.cleanup()
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from gridgov.errors import GridgovError, InputError, InvalidParameter, NotFound, Problem
from gridgov.settings import MediaSettings, current

FIELD = "photo"
SHANGHAI = ZoneInfo("Asia/Shanghai")

# Pillow format -> (media type, file extension). HEIF counts only when an opener for it is
# registered with Pillow; plain Pillow has none, and such uploads get the "send JPEG" message.
FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"),
           "WEBP": ("image/webp", "webp"), "HEIF": ("image/heic", "heic")}
SERVED = ".served.jpg"
THUMB = ".thumb.jpg"
THUMB_PX = 640
# JPEG for every served copy: one format that every browser and WeChat's web view shows, and a
# name open_served() knows without looking. 85 is visually lossless for photos at ~1/3 the size.
JPEG_OPTIONS = {"quality": 85, "optimize": True, "progressive": True}

# ISO-BMFF brands of HEIC/HEIF (iPhones' default "High Efficiency" format)
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs",
                b"mif1", b"msf1"}
_SHA = re.compile(r"[0-9a-f]{64}")
# what may live in the media folder (and in a backup of it): <sha[:2]>/<sha>.<suffixes>
_STORED = re.compile(r"(?P<shard>[0-9a-f]{2})/(?P<sha>[0-9a-f]{64})(?P<suffix>(\.[a-z]+)+)")
_ORIENTATION_SWAPS = {5, 6, 7, 8}  # EXIF orientations that turn the image by 90°


@dataclass(frozen=True)
class Photo:
    """A stored photo. ``path`` is the original; ``width`` × ``height`` as shown (upright);
    ``bytes`` the original's size; ``taken_at`` aware (Asia/Shanghai) or None; ``lon``/``lat``
    WGS-84 degrees or None."""

    sha256: str
    path: Path
    media_type: str
    width: int
    height: int
    bytes: int
    taken_at: datetime | None
    lon: float | None
    lat: float | None


def root(settings: MediaSettings | None = None) -> Path:
    """The media folder (``GRIDGOV_MEDIA_DIR``)."""
    return Path((settings or current(MediaSettings)).dir).expanduser()


def store(data: bytes | BinaryIO, *, name: str = FIELD,
          settings: MediaSettings | None = None) -> Photo:
    """Check ``data`` (bytes or a binary file) and store it; ``name`` (the upload's file name)
    locates the problem in an :class:`InputError`. Storing stored bytes again changes nothing."""
    settings = settings or current(MediaSettings)
    raw = _read_limited(data, name, settings)
    image, fmt = _decode(raw, name, settings)
    try:
        sha = hashlib.sha256(raw).hexdigest()
        media_type, ext = FORMATS[fmt]
        exif = image.getexif()
        width, height = image.size
        if exif.get(ExifTags.Base.Orientation) in _ORIENTATION_SWAPS:
            width, height = height, width
        taken_at = _taken_at(exif)
        lon, lat = _position(exif)
        original = root(settings) / sha[:2] / f"{sha}.{ext}"
        # derived copies first, the original last: a crash in between leaves no original that
        # lacks its served copy (and open_served rebuilds a missing one anyway)
        _derive(image, original)
        if not original.exists():
            _write_atomic(original, lambda f: f.write(raw))
    finally:
        image.close()
    return Photo(sha, original, media_type, width, height, len(raw), taken_at, lon, lat)


def original_path(sha256: str, settings: MediaSettings | None = None) -> Path:
    """The original as uploaded, EXIF and all: evidence, for admins only."""
    sha = _check_sha(sha256)
    folder = root(settings) / sha[:2]
    for _, ext in FORMATS.values():
        if (path := folder / f"{sha}.{ext}").is_file():
            return path
    raise NotFound(f"no photo {sha}")


def open_served(sha256: str, settings: MediaSettings | None = None) -> Path:
    """The path of the copy anyone may see (no metadata), for the API to stream as a file."""
    return _derived(sha256, SERVED, settings)


def thumbnail_path(sha256: str, settings: MediaSettings | None = None) -> Path:
    """The served copy at most 640 px on its long side."""
    return _derived(sha256, THUMB, settings)


# --- backup: the media folder as one tar beside the database dump ------------------------------

def stored_files(media_dir: str | Path) -> list[str]:
    """The stored files under ``media_dir`` as ``<shard>/<name>``, sorted; temporary files of
    writes under way are not among them."""
    media_dir = Path(media_dir)
    if not media_dir.is_dir():
        return []
    names = (f"{p.parent.name}/{p.name}" for p in media_dir.glob("??/*") if p.is_file())
    return sorted(n for n in names if _stored_match(n))


def pack(media_dir: str | Path, tar_path: str | Path) -> int:
    """Write every stored file to the tar ``tar_path``; returns how many. With no files, writes
    nothing and returns 0. Safe while photos are being stored: files never change once there."""
    names = stored_files(media_dir)
    if not names:
        return 0

    def anonymous(info: tarfile.TarInfo) -> tarfile.TarInfo:
        # the restoring machine's user owns the files, whatever the backing-up one was called
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    def write(f: BinaryIO) -> None:
        # no compression: JPEG, PNG and WebP are compressed already
        with tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in names:
                tar.add(Path(media_dir) / name, arcname=name, recursive=False, filter=anonymous)

    _write_atomic(Path(tar_path), write)
    return len(names)


def unpack(tar_path: str | Path, media_dir: str | Path) -> int:
    """Put the files of a :func:`pack` tar into ``media_dir``; returns how many were added.

    Merges: a file already there has the same name, so the same photo, and is kept. Each
    original is checked against its name (a damaged backup is refused, not restored). Every
    member is checked before anything is written, so a hostile tar cannot write outside.
    """
    tar_path, media_dir = Path(tar_path), Path(media_dir)
    try:
        tar = tarfile.open(tar_path, mode="r:")
    except (OSError, tarfile.TarError) as exc:
        raise InputError([Problem(str(tar_path), None, None,
                                  f"is not a media backup (tar): {exc}")]) from exc
    with tar:
        members = tar.getmembers()
        bad = [m.name for m in members if not (m.isreg() and _stored_match(m.name))]
        if bad:
            raise InputError([Problem(str(tar_path), None, None,
                                      f"holds {len(bad)} entries that are not stored photos, "
                                      f"e.g. {bad[0]!r}")])
        added = 0
        for member in members:
            target = media_dir / member.name
            if target.exists():
                continue
            match = _stored_match(member.name)
            is_original = match["suffix"][1:] in {ext for _, ext in FORMATS.values()}
            source = tar.extractfile(member)
            assert source is not None  # a regular file, checked above

            def copy(f: BinaryIO) -> None:  # called at once, in this iteration
                digest = hashlib.sha256()
                while chunk := source.read(1 << 20):
                    digest.update(chunk)
                    f.write(chunk)
                if is_original and digest.hexdigest() != match["sha"]:
                    raise InputError([Problem(str(tar_path), None, None,
                                              f"{member.name} does not match its checksum: the "
                                              "backup is damaged")])

            _write_atomic(target, copy)
            added += 1
    return added


# --- checking ----------------------------------------------------------------------------------

def _refuse(name: str, message: str) -> InputError:
    return InputError([Problem(name, None, FIELD, message)])


def _read_limited(data: bytes | BinaryIO, name: str, settings: MediaSettings) -> bytes:
    limit = int(settings.max_mb * 1024 * 1024)
    in_memory = isinstance(data, (bytes, bytearray, memoryview))
    # from a stream, read one byte past the limit at most: an endless upload costs no memory
    raw = bytes(data) if in_memory else data.read(limit + 1)
    if not raw:
        raise _refuse(name, "is empty")
    if len(raw) > limit:
        size = f"is {len(raw) / 1024 / 1024:.1f} MB" if in_memory else "is larger"
        raise _refuse(name, f"{size}, over the photo limit of {settings.max_mb:g} MB "
                            "(GRIDGOV_MEDIA_MAX_MB)")
    return raw


def _decode(raw: bytes, name: str, settings: MediaSettings) -> tuple[Image.Image, str]:
    """The image decoded in full, and its Pillow format; refuses whatever is not a whole image."""
    Image.init()  # every plugin registered, so a HEIF opener shows up if this Pillow has one
    formats = [f for f in FORMATS if f in Image.OPEN]
    max_pixels = int(settings.max_megapixels * 1_000_000)
    too_many = (f"has too many pixels; photos may have at most {settings.max_megapixels:g} "
                "megapixels (GRIDGOV_MEDIA_MAX_MEGAPIXELS)")
    try:
        # formats= tries only these decoders: a TIFF, GIF or SVG is not an accepted photo
        with Image.open(io.BytesIO(raw), formats=formats) as probe:
            fmt = probe.format
            # the size comes from the header: a decompression bomb stops here, undecoded
            if probe.width * probe.height > max_pixels:
                raise _refuse(name, f"{too_many}; it has {probe.width} × {probe.height}")
            probe.verify()  # structure and checksums (PNG CRCs) without decoding
        # verify() leaves the image unusable: open again and decode every pixel, which is what
        # finds a truncated JPEG
        image = Image.open(io.BytesIO(raw), formats=[fmt])
        try:
            image.load()
        except BaseException:
            image.close()
            raise
    except GridgovError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # over Pillow's own limit (MAX_IMAGE_PIXELS), checked before ours can be
        raise _refuse(name, too_many) from None
    except UnidentifiedImageError:
        if raw[4:8] == b"ftyp" and raw[8:12] in _HEIF_BRANDS:
            raise _refuse(name, "is a HEIC/HEIF photo, which cannot be read here; send it as "
                                "JPEG (iPhone: Settings › Camera › Formats › Most Compatible)"
                          ) from None
        raise _refuse(name, "is not a JPEG, PNG or WebP image (send photos as JPEG)") from None
    except Exception as exc:
        # decoders fail in many ways on damaged data (OSError "image file is truncated",
        # SyntaxError, ValueError, struct.error, ...): all of them mean no usable photo
        raise _refuse(name, f"is damaged or incomplete and cannot be read ({exc})") from None
    return image, fmt


# --- metadata ----------------------------------------------------------------------------------

def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "ignore")
    return (value.strip("\x00 ") or None) if isinstance(value, str) else None


def _taken_at(exif: Image.Exif) -> datetime | None:
    """DateTimeOriginal (else DateTimeDigitized, the same on cameras), aware. Not IFD0 DateTime:
    editing software sets that to the time of the edit."""
    ifd = exif.get_ifd(ExifTags.IFD.Exif)
    for when, offset in ((ExifTags.Base.DateTimeOriginal, ExifTags.Base.OffsetTimeOriginal),
                         (ExifTags.Base.DateTimeDigitized, ExifTags.Base.OffsetTimeDigitized)):
        value = _text(ifd.get(when))
        if not value:
            continue
        # the standard's "2026:03:14 09:26:53"; some apps write the date with - or /
        value = re.sub(r"^(\d{4})[-/:](\d{2})[-/:](\d{2})", r"\1:\2:\3", value)
        try:
            naive = datetime.strptime(value[:19], "%Y:%m:%d %H:%M:%S")
        except ValueError:  # "0000:00:00 00:00:00", blanks: unknown, try the next tag
            continue
        zone = _offset(_text(ifd.get(offset)))
        if zone is None:
            return naive.replace(tzinfo=SHANGHAI)
        return naive.replace(tzinfo=zone).astimezone(SHANGHAI)
    return None


def _offset(value: str | None) -> timezone | None:
    match = re.fullmatch(r"([+-])(\d{2}):(\d{2})", value or "")
    if not match:
        return None
    delta = timedelta(hours=int(match[2]), minutes=int(match[3]))
    return timezone(-delta if match[1] == "-" else delta) if delta < timedelta(hours=24) else None


def _position(exif: Image.Exif) -> tuple[float | None, float | None]:
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    lat = _degrees(gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef), "NS")
    lon = _degrees(gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef),
                   "EW")
    if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180:
        return None, None
    if lat == 0 and lon == 0:  # phones without a fix write zeros: no position, not the Atlantic
        return None, None
    return lon, lat


def _degrees(value: object, ref: object, refs: str) -> float | None:
    """Degrees, minutes, seconds (rationals) and a ref letter -> signed decimal degrees. Without
    the ref the hemisphere is unknown: no position rather than a guessed one."""
    ref = _text(ref)
    if ref is None or ref.upper()[:1] not in refs:
        return None
    try:
        parts = [float(v) for v in (value if isinstance(value, (tuple, list)) else [value])]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not 1 <= len(parts) <= 3 or not all(math.isfinite(p) and p >= 0 for p in parts):
        return None
    degrees = sum(p / 60 ** i for i, p in enumerate(parts))
    return -degrees if ref.upper()[:1] == refs[1] else degrees


# --- served copies -----------------------------------------------------------------------------

def _served_image(image: Image.Image) -> Image.Image:
    """Upright, sRGB, RGB on white, and no metadata of any kind."""
    upright = ImageOps.exif_transpose(image)  # before the EXIF (and its Orientation) goes
    icc = upright.info.get("icc_profile")
    has_alpha = upright.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        "transparency" in upright.info)
    target = "RGBA" if has_alpha else "RGB"
    converted = _to_srgb(upright, icc, target) if icc else None
    clean = converted or upright.convert(target)
    if has_alpha:
        # JPEG has no alpha: transparent parts become white, as a page would show them
        background = Image.new("RGBA", clean.size, "white")
        background.alpha_composite(clean)
        clean = background.convert("RGB")
    # convert() copies info (a JPEG comment, XMP, the profile...) and JPEG's save writes the
    # comment from it: empty it, and pass no exif/icc_profile/xmp when saving
    clean.info = {}
    return clean


def _to_srgb(image: Image.Image, icc: bytes, mode: str) -> Image.Image | None:
    # A wide-gamut (Display P3) or CMYK photo looks wrong once its profile is gone: convert the
    # pixels to sRGB, which browsers assume for an image without a profile.
    try:
        from PIL import ImageCms

        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if image.mode not in ("RGB", "RGBA", "CMYK", "L"):
            image = image.convert(mode)
        return ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"),
                                         outputMode=mode)
    except Exception:  # no LittleCMS, or a broken or unusual profile: the colours as they are
        return None


def _derive(image: Image.Image, original: Path) -> None:
    """Write the served copy and the thumbnail of ``image`` beside ``original``, if missing."""
    sha = original.name.split(".")[0]
    served_path = original.with_name(sha + SERVED)
    thumb_path = original.with_name(sha + THUMB)
    if served_path.exists() and thumb_path.exists():
        return
    served = _served_image(image)
    if not served_path.exists():
        _write_atomic(served_path, lambda f: served.save(f, "JPEG", **JPEG_OPTIONS))
    if not thumb_path.exists():
        served.thumbnail((THUMB_PX, THUMB_PX), Image.Resampling.LANCZOS)
        _write_atomic(thumb_path, lambda f: served.save(f, "JPEG", **JPEG_OPTIONS))


def _derived(sha256: str, suffix: str, settings: MediaSettings | None) -> Path:
    sha = _check_sha(sha256)
    path = root(settings) / sha[:2] / (sha + suffix)
    if not path.is_file():
        # the original is there but not this copy (an interrupted store, an older backup):
        # make it again from the original, which was checked when it was stored
        original = original_path(sha, settings)
        with Image.open(original) as image:
            image.load()
            _derive(image, original)
    return path


def _check_sha(sha256: str) -> str:
    # the digest becomes a path: nothing but 64 hex digits may reach the file system
    sha = str(sha256).lower()
    if not _SHA.fullmatch(sha):
        raise InvalidParameter("sha256", "is not a SHA-256 digest (64 hexadecimal digits)")
    return sha


def _stored_match(name: str) -> re.Match[str] | None:
    match = _STORED.fullmatch(name)
    return match if match and match["sha"][:2] == match["shard"] else None


# --- files -------------------------------------------------------------------------------------

def _write_atomic(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write through ``write`` to a temporary file beside ``path``, then rename it into place:
    readers see the whole file or none. The temporary name starts with a dot, which
    :func:`stored_files` (and so a backup) skips."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())  # the data on disk before the name points at it
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    # makes the rename itself survive a power cut; not possible on every platform (Windows)
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
