"""Audio features at the video frame rate: librosa 35-d "baseline", WavLM-Large, wav2vec2."""
