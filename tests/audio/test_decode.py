"""babycry_core.audio.decode: every format decodes to mono float32 at the asked rate; bad input gets a typed error."""
from __future__ import annotations

import hashlib
import io
import pickle
import struct
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from babycry_core.audio import decode as audio
from babycry_core.audio import synth
from babycry_core.paths import shared_data_dir

SR = 8000


def rms(y) -> float:
    return float(np.sqrt(np.mean(np.square(y, dtype=np.float64))))


def sf_bytes(y, sr, fmt, subtype=None) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def av_bytes(y, sr, container: str, codec: str = "aac") -> bytes:
    """Encode mono float audio with PyAV (m4a = "mp4" container, raw AAC = "adts")."""
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as c:
        s = c.add_stream(codec, rate=sr, layout="mono")
        frame = av.AudioFrame.from_ndarray((y * 32767).astype(np.int16).reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = sr
        for packet in [*s.encode(frame), *s.encode(None)]:
            c.mux(packet)
    return buf.getvalue()


def video_only_mp4() -> bytes:
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as c:
        s = c.add_stream("mpeg4", rate=10)
        s.width, s.height, s.pix_fmt = 64, 64, "yuv420p"
        for i in range(5):
            img = np.full((64, 64, 3), i * 40, np.uint8)
            for packet in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(packet)
        for packet in s.encode(None):
            c.mux(packet)
    return buf.getvalue()


def check_output(y, seconds=None, tol=0.0):
    assert isinstance(y, np.ndarray) and y.dtype == np.float32 and y.ndim == 1
    assert np.isfinite(y).all() and np.abs(y).max() <= 1.0
    if seconds is not None:
        assert abs(len(y) / SR - seconds) <= tol + 1e-9, (len(y) / SR, seconds)


CRY16 = synth.cry_sweep(3.0, 16000)


# ------------------------------------------------------------------ formats

@pytest.mark.parametrize("fmt,label,lossless", [("WAV", "wav", True), ("FLAC", "flac", True),
                                                 ("OGG", "ogg", False), ("MP3", "mp3", False)])
def test_soundfile_formats(fmt, label, lossless):
    data = sf_bytes(CRY16, 16000, fmt)
    y = audio.load(data, SR)
    check_output(y, 3.0, tol=0.0 if lossless else 0.1)
    info = audio.probe(data)
    assert info.format == label and info.sample_rate == 16000 and info.channels == 1
    assert abs(info.duration - 3.0) < 0.1
    ref = audio.load(sf_bytes(CRY16, 16000, "WAV", "FLOAT"), SR)
    if lossless:
        assert np.abs(y - ref).max() < 1e-3
    else:
        assert abs(rms(y) / rms(ref) - 1) < 0.2


@pytest.mark.parametrize("container,label", [("mp4", "mp4"), ("adts", "aac")])
def test_pyav_formats_m4a_aac(container, label):
    data = av_bytes(CRY16, 16000, container)
    assert not data.startswith(b"RIFF")
    y = audio.load(data, SR, name=f"clip.{'m4a' if container == 'mp4' else 'aac'}")
    check_output(y, 3.0, tol=0.1)  # AAC priming/padding adds at most a few frames
    assert abs(rms(y) / rms(audio.load(synth.to_wav_bytes(CRY16, 16000), SR)) - 1) < 0.2
    info = audio.probe(data)
    assert info.format == label and info.sample_rate == 16000 and abs(info.duration - 3.0) < 0.15


def _real_upload(ext):
    d = shared_data_dir()
    files = sorted((d / "uploads-sample").glob(f"*{ext}")) if (d / "uploads-sample").is_dir() else []
    for f in files:
        twins = list((d / "donateacry").glob(f"*/{f.stem}.wav"))
        if twins:
            return f, twins[0]
    pytest.skip(f"no {ext} upload with a cleaned twin under {d} (shared data not present)")


@pytest.mark.parametrize("ext,codec_rate", [(".3gp", 8000), (".caf", 16000)])
def test_real_phone_uploads_match_cleaned_twin(ext, codec_rate):
    # Measured here: every upload decodes to exactly its twin's length, correlation >= 0.997.
    upload, twin = _real_upload(ext)
    y = audio.load(upload, SR)
    ref, ref_sr = sf.read(twin, dtype="float32")
    assert ref_sr == SR
    check_output(y, len(ref) / SR, tol=0.05)
    n = min(len(y), len(ref))
    assert np.corrcoef(y[:n], ref[:n])[0, 1] > 0.98
    info = audio.probe(upload)
    assert info.format == ext[1:] and info.sample_rate == codec_rate and info.channels == 1
    assert abs(info.duration - len(ref) / SR) < 0.05


# ------------------------------------------------------------------ typed errors

WAV = synth.to_wav_bytes(synth.sine(0.5))


@pytest.mark.parametrize("data,name,exc,reason", [
    (b"", "a.wav", audio.EmptyFileError, "empty"),
    (WAV[:44], "a.wav", audio.EmptyFileError, "zero_length"),       # valid header, 0 frames
    (WAV[:20], "a.wav", audio.DecodeError, "decode_failed"),        # truncated header
    (np.random.default_rng(0).bytes(4000), "a.wav", audio.NotAudioError, "not_audio"),
    (b"hello, this is a note\n" * 50, "song.mp3", audio.NotAudioError, "not_audio"),
    (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" * 20, "cry.m4a",
     audio.NotAudioError, "not_audio"),
])
def test_typed_errors(tmp_path, data, name, exc, reason):
    path = tmp_path / name
    path.write_bytes(data)
    for source in (data, path, io.BytesIO(data)):
        with pytest.raises(exc) as info:
            audio.load(source, SR, name=name)
        err = info.value
        assert isinstance(err, audio.AudioError) and isinstance(err, ValueError)
        assert err.reason == reason and "\n" not in str(err) and str(err)
    with pytest.raises(exc):
        audio.probe(data)


def test_error_messages_are_plain_and_picklable():
    with pytest.raises(audio.EmptyFileError, match=r"^The file is empty\.$"):
        audio.load(b"", SR)
    with pytest.raises(audio.NotAudioError, match=r"^'evil\?name\.mp3' is not an audio file"):
        audio.load(b"text " * 100, SR, name="/uploads/evil\nname.mp3")
    err = pickle.loads(pickle.dumps(audio._too_long(None, 600.0, "x.wav")))
    assert type(err) is audio.TooLongError and err.reason == "too_long"
    assert str(err) == "The recording is longer than 10 min (the limit); trim it and try again."


def test_container_without_audio_stream():
    with pytest.raises(audio.NotAudioError) as info:
        audio.load(video_only_mp4(), SR, name="movie.mp4")
    assert info.value.reason == "no_audio_stream"


def test_too_large_is_refused_from_size_alone(tmp_path):
    big = tmp_path / "big.wav"
    with open(big, "wb") as f:
        f.truncate(26 * 2**20)  # sparse: no memory, almost no disk
    with pytest.raises(audio.FileTooLargeError, match=r"^The file is 26\.0 MB; the limit is 25 MB\.$"):
        audio.load(big, SR)
    with pytest.raises(audio.FileTooLargeError):
        audio.probe(big)

    class Upload:  # like Streamlit's UploadedFile: .size known, reading would be a bug
        size, name = 31_200_000, "huge.m4a"

        def seekable(self):
            return False

        def read(self, *a):
            raise AssertionError("read before the size check")

    with pytest.raises(audio.FileTooLargeError, match=r"29\.8 MB"):
        audio.load(Upload(), SR)
    with pytest.raises(audio.FileTooLargeError):
        audio.load(WAV, SR, max_bytes=1000)
    assert len(audio.load(WAV, SR, max_bytes=len(WAV))) == 4000


def test_too_long_refused_from_header_before_decoding(monkeypatch):
    data = synth.to_wav_bytes(synth.sine(3.0))
    assert len(audio.load(data, SR, max_seconds=3.0)) == 3 * SR

    class Decoded(BaseException):  # not an Exception: no fallback path may swallow it
        pass

    def no_decoding(*a, **k):
        raise Decoded("decoded a too-long file")

    monkeypatch.setattr(sf.SoundFile, "read", no_decoding)
    with pytest.raises(audio.TooLongError) as info:
        audio.load(data, SR, max_seconds=2.0)
    assert info.value.reason == "too_long" and "2 s" in str(info.value)
    # two hours at 100 Hz is only 1.4 MB: under the size limit, refused on duration
    two_hours = synth.to_wav_bytes(np.zeros(7200 * 100, np.float32), 100)
    with pytest.raises(audio.TooLongError, match="10 min"):
        audio.load(two_hours, SR)
    assert audio.probe(two_hours).duration == 7200.0


def test_too_long_m4a_refused_from_container_header(monkeypatch):
    data = av_bytes(synth.sine(3.0, 16000), 16000, "mp4")
    assert abs(len(audio.load(data, SR, max_seconds=3.2)) - 3 * SR) < 0.1 * SR

    class Decoded(BaseException):
        pass

    def no_decoding(*a, **k):
        raise Decoded("decoded a too-long file")

    monkeypatch.setattr(audio._MonoSink, "feed", no_decoding)
    with pytest.raises(audio.TooLongError):
        audio.load(data, SR, max_seconds=2.0)


def test_too_long_without_header_duration_stops_while_decoding(monkeypatch):
    data = av_bytes(synth.sine(3.0, 16000), 16000, "mp4")
    fed = []
    original = audio._MonoSink.feed
    monkeypatch.setattr(audio.pyav, "header_seconds", lambda c, s: None)
    monkeypatch.setattr(audio._MonoSink, "feed", lambda self, x, r: (fed.append(len(x) / r), original(self, x, r)))
    with pytest.raises(audio.TooLongError):
        audio.load(data, SR, max_seconds=1.0)
    assert 1.0 < sum(fed) < 1.2  # stopped just past the limit, not after the whole file


# ------------------------------------------------------------------ signal handling

def test_96k_float32_stereo_downmixed_and_resampled():
    t = np.arange(2 * 96000) / 96000
    left, right = 0.6 * np.sin(2 * np.pi * 440 * t), 0.2 * np.sin(2 * np.pi * 440 * t)
    data = sf_bytes(np.stack([left, right], 1).astype(np.float32), 96000, "WAV", "FLOAT")
    info = audio.probe(data)
    assert (info.sample_rate, info.channels, info.duration) == (96000, 2, 2.0)
    y = audio.load(data, SR)
    check_output(y, 2.0)
    assert len(y) == 16000
    assert abs(np.abs(y[800:-800]).max() - 0.4) < 0.01  # mean of the channels


def test_nan_and_inf_become_finite():
    y = synth.sine(1.0, SR)
    y[100:110], y[200], y[300] = np.nan, np.inf, -np.inf
    data = sf_bytes(y, SR, "WAV", "FLOAT")
    out = audio.load(data, SR)
    check_output(out, 1.0)
    assert out[100] == 0 and out[200] == 0 and np.allclose(out[400:], y[400:])
    resampled = audio.load(sf_bytes(y, 16000, "WAV", "FLOAT"), SR)  # NaN must not smear through the filter
    check_output(resampled, 0.5)
    assert np.abs(resampled[300:]).max() > 0.4


def test_levels_preserved_clipped_and_quiet():
    clipped = np.clip(10 * synth.sine(2.0, 16000), -1, 1)
    y = audio.load(sf_bytes(clipped, 16000, "WAV"), SR)
    check_output(y, 2.0)
    assert np.abs(y).max() > 0.99 and abs(rms(y) - rms(clipped)) < 0.05
    quiet = synth.sine(2.0, 16000, level=10 ** (-70 / 20))  # -70 dBFS peak, a few 16-bit steps
    y = audio.load(sf_bytes(quiet, 16000, "WAV"), SR)
    assert abs(20 * np.log10(np.abs(y).max()) + 70) < 1.5  # not normalised
    assert abs(rms(y) / rms(quiet) - 1) < 0.1


@pytest.mark.parametrize("rate", [8000, 44100])
def test_short_clip_keeps_its_length(rate):
    y = audio.load(synth.to_wav_bytes(synth.cry_sweep(0.2, rate), rate), SR)
    check_output(y)
    assert len(y) == 1600


def test_resampling_band_limits():
    high = synth.sine(2.0, 44100, freq=6000.0, level=0.5)
    low = synth.sine(2.0, 44100, freq=1000.0, level=0.5)
    y_high = audio.load(synth.to_wav_bytes(high, 44100), SR)
    y_low = audio.load(synth.to_wav_bytes(low, 44100), SR)
    assert len(y_high) == len(y_low) == 16000
    steady = slice(400, -400)  # the abrupt start/stop of the tone is broadband; judge the steady part
    assert rms(y_high[steady]) < 1e-3 * rms(high)  # > 60 dB down: no alias at 2 kHz
    assert abs(rms(y_low) / rms(low) - 1) < 0.01  # the passband is untouched


# ------------------------------------------------------------------ sources, hashing, threads, speed

@pytest.mark.parametrize("kind", ["wav44k", "m4a"])
def test_path_bytes_filelike_identical(tmp_path, kind):
    data = synth.to_wav_bytes(CRY16, 44100) if kind == "wav44k" else av_bytes(CRY16, 16000, "mp4")
    path = tmp_path / "clip.bin"
    path.write_bytes(data)
    upload = io.BytesIO(data)
    upload.name = "clip.m4a"
    upload.seek(0, io.SEEK_END)  # already read by someone else: load still reads from the start
    results = [audio.load(s, SR) for s in (path, str(path), data, bytearray(data), upload)]
    assert upload.tell() == len(data)  # position restored
    for y in results[1:]:
        assert np.array_equal(results[0], y)
    want = hashlib.sha1(data).hexdigest()
    assert {audio.content_hash(s) for s in (path, str(path), data, io.BytesIO(data))} == {want}
    assert audio.content_hash(b"x") != want


def test_thread_safe():
    sources = [synth.to_wav_bytes(synth.cry_sweep(2.0, r, seed=r), r) for r in (8000, 16000, 22050, 44100)]
    sources.append(av_bytes(CRY16, 16000, "mp4"))
    serial = [audio.load(s, SR) for s in sources]
    with ThreadPoolExecutor(8) as pool:
        parallel = list(pool.map(lambda s: audio.load(s, SR), sources * 6))
    for i, y in enumerate(parallel):
        assert np.array_equal(y, serial[i % len(sources)])


def test_fast_for_a_7s_8k_wav():
    data = synth.to_wav_bytes(synth.cry_sweep(7.0))
    audio.load(data, SR)
    best = min(_timed(lambda: audio.load(data, SR)) for _ in range(20))
    assert best < 0.005, f"{best * 1000:.2f} ms"


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


# ------------------------------------------------------------------ fuzz

SMALL_WAV = synth.to_wav_bytes(synth.white_noise(0.05, SR))


def _load_or_audio_error(data: bytes):
    try:
        y = audio.load(data, SR, max_seconds=5.0)
    except audio.AudioError as err:
        assert str(err) and "\n" not in str(err) and err.reason
        return
    check_output(y)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_fuzz_random_bytes(data):
    _load_or_audio_error(data)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flips=st.lists(st.tuples(st.integers(0, len(SMALL_WAV) - 1), st.integers(0, 7)), max_size=8),
       cut=st.integers(0, len(SMALL_WAV)), header_fields=st.lists(st.integers(0, 2**32 - 1), max_size=1))
def test_fuzz_mutated_wav(flips, cut, header_fields):
    data = bytearray(SMALL_WAV)
    for pos, bit in flips:
        data[pos] ^= 1 << bit
    if header_fields:  # a random RIFF/data size or sample rate
        off = (4, 24, 40)[header_fields[0] % 3]
        data[off:off + 4] = struct.pack("<I", header_fields[0])
    _load_or_audio_error(bytes(data[:cut]))


SMALL_M4A = av_bytes(synth.sine(0.2, 16000), 16000, "mp4")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flips=st.lists(st.tuples(st.integers(0, len(SMALL_M4A) - 1), st.integers(0, 7)), min_size=1, max_size=8),
       cut=st.integers(0, len(SMALL_M4A)))
def test_fuzz_mutated_m4a(flips, cut):  # the PyAV path
    data = bytearray(SMALL_M4A)
    for pos, bit in flips:
        data[pos] ^= 1 << bit
    _load_or_audio_error(bytes(data[:cut]))
