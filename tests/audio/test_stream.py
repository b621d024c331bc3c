"""Chunked decoding (stream.py): the chunks joined are audio.load's samples; chunk sizes bound the memory; the
length limit is read from the header; bad input gives audio/decode.py's one-line errors."""
import io

import numpy as np
import pytest
import soundfile as sf

from babycry_core.audio import decode as audio
from babycry_core.audio import stream
from babycry_core.audio import synth


@pytest.fixture(scope="module")
def long_wav(tmp_path_factory):
    """Ten minutes of 44.1 kHz stereo with a tone and noise, written block by block (never whole in memory)."""
    f = tmp_path_factory.mktemp("long") / "long.wav"
    rng = np.random.default_rng(0)
    sr = 44100
    with sf.SoundFile(f, "w", sr, 2, subtype="PCM_16") as out:
        for m in range(10):
            t = np.arange(sr * 60) / sr
            tone = 0.2 * np.sin(2 * np.pi * (300 + 40 * m) * t)
            out.write(np.stack([tone + rng.normal(0, 0.05, len(t)), -tone], axis=1).astype(np.float32))
    return f


def test_chunks_joined_equal_the_whole_decode(long_wav):
    whole = audio.load(long_wav, 8000, max_seconds=3600, max_bytes=float("inf"))
    s = stream.AudioStream(long_wav, 8000, chunk_seconds=7.3)
    chunks = list(s)
    joined = np.concatenate(chunks)
    assert len(joined) == len(whole) == 600 * 8000
    assert np.abs(joined - whole).max() < 1e-4
    assert s.info.duration == pytest.approx(600.0) and s.info.channels == 2 and s.info.sample_rate == 44100
    assert s.seconds == pytest.approx(600.0) and not s.truncated


def test_memory_is_bounded_by_the_chunk_size(long_wav):
    n = int(round(5.0 * 8000))
    sizes = [len(c) for c in stream.stream(long_wav, 8000, chunk_seconds=5.0)]
    assert sizes[:-1] == [n] * (len(sizes) - 1) and 0 < sizes[-1] <= n
    assert all(c.dtype == np.float32 and c.ndim == 1 for c in stream.stream(long_wav, 8000, chunk_seconds=60.0))


def test_the_generator_is_lazy(long_wav, monkeypatch):
    """Taking two chunks reads only a little of the file: it is never decoded whole first."""
    reads = []
    real = sf.SoundFile.read

    def counting(self, frames=-1, *a, **kw):
        reads.append(frames)
        return real(self, frames, *a, **kw)

    monkeypatch.setattr(sf.SoundFile, "read", counting)
    g = stream.stream(long_wav, 8000, chunk_seconds=1.0)
    next(g), next(g)
    assert reads and all(0 < r <= 1 << 16 for r in reads)
    assert sum(reads) < 44100 * 5
    g.close()


def test_the_header_refuses_a_too_long_file_before_decoding(long_wav):
    with pytest.raises(audio.TooLongError) as e:
        stream.AudioStream(long_wav, 8000, max_seconds=9 * 60)
    assert "9 min" in str(e.value) and e.value.seconds == pytest.approx(600.0)


def test_compressed_input_through_pyav_equals_load(tmp_path):
    import av

    f = tmp_path / "clip.m4a"
    with av.open(str(f), "w", format="ipod") as c:
        st = c.add_stream("aac", rate=16000)
        st.layout = "mono"
        y = synth.cry_sweep(12.0, 16000).astype(np.float32)
        for i in range(0, len(y), 1024):
            fr = av.AudioFrame.from_ndarray(y[None, i:i + 1024], format="fltp", layout="mono")
            fr.sample_rate = 16000
            for p in st.encode(fr):
                c.mux(p)
        for p in st.encode(None):
            c.mux(p)
    s = stream.AudioStream(f, 8000, chunk_seconds=2.0)
    joined = np.concatenate(list(s))
    whole = audio.load(f, 8000)
    assert s.info.decoder == "pyav" and len(joined) == len(whole)
    assert np.abs(joined - whole).max() < 1e-4


@pytest.mark.parametrize("data,err", [(b"", audio.EmptyFileError), (b"plain text, not audio " * 20, audio.NotAudioError),
                                      (b"RIFF" + b"\0" * 200, audio.DecodeError)])
def test_bad_input_gives_one_line_audio_errors(data, err):
    with pytest.raises(err) as e:
        list(stream.stream(data, 8000))
    assert "\n" not in str(e.value)


def test_bytes_and_file_objects_stream_too():
    y = synth.cry_sweep(3.0, 8000)
    wav = synth.to_wav_bytes(y)
    a = np.concatenate(list(stream.stream(wav, 8000)))
    b = np.concatenate(list(stream.stream(io.BytesIO(wav), 8000, chunk_seconds=0.5)))
    assert np.array_equal(a, b) and np.abs(a - audio.load(wav, 8000)).max() < 1e-6
