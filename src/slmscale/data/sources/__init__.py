"""Manifests from real audio: LibriSpeech layout, any folder of audio files; alignment readers."""

from slmscale.data.sources.alignments import AlignmentError, read_alignment, read_slamkit_json, read_textgrid
from slmscale.data.sources.common import BuildResult, Skip
from slmscale.data.sources.folder import build_folder_manifest
from slmscale.data.sources.librispeech import build_librispeech_manifest

__all__ = ["AlignmentError", "BuildResult", "Skip", "build_folder_manifest", "build_librispeech_manifest",
           "read_alignment", "read_slamkit_json", "read_textgrid"]
