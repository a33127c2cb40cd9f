package cli

import (
	"compress/flate"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"strings"
)

// tcpflow 1.6.1 pipes compressed inputs through external decompressors,
// whose complaints reach stderr before tcpflow's own message about the
// data it then lacks. bpflow decompresses in-process and prints what those
// programs would have printed, for the cases that matter: a missing file
// (every decompressor) and a damaged gzip stream.

// decompressorMessages prints what tcpflow's decompressor children print
// when a compressed input does not exist or (gzip) is not gzip data.
func (s *session) decompressorMessages(path string) {
	var tool string
	switch {
	case strings.HasSuffix(path, ".gz"):
		tool = "gzip: " + path + ": No such file or directory"
	case strings.HasSuffix(path, ".bz2"):
		tool = "bunzip2: Can't open input file " + path + ": No such file or directory."
	case strings.HasSuffix(path, ".xz"):
		tool = "unxz: " + path + ": No such file or directory"
	case strings.HasSuffix(path, ".lzma"):
		tool = "unlzma: " + path + ": No such file or directory"
	case strings.HasSuffix(path, ".zip"):
		tool = "" // unzip complains on its stdout, which is the pipe
	default:
		return
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if tool != "" {
			s.errln(tool)
		}
		s.errln("decompressor reported error inflating '" + path + "'")
		return
	}
	if strings.HasSuffix(path, ".gz") {
		s.gzipComplaint(path, false)
	}
}

// gzipComplaint prints gunzip's message about a damaged file: only the
// header is checked unless whole is set (after a read error, to explain it).
func (s *session) gzipComplaint(path string, whole bool) {
	msg := gzipProblem(path, whole)
	if msg == "" {
		return
	}
	s.errln("")
	s.errln("gzip: " + path + ": " + msg)
	s.errln("decompressor reported error inflating '" + path + "'")
}

// gzipProblem returns gzip's wording for what is wrong with path, or "".
func gzipProblem(path string, whole bool) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var magic [2]byte
	if n, _ := io.ReadFull(f, magic[:]); n < 2 {
		return "unexpected end of file"
	}
	if magic != [2]byte{0x1f, 0x8b} {
		return "not in gzip format"
	}
	if !whole {
		return ""
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return ""
	}
	zr, err := gzip.NewReader(f)
	if err == nil {
		_, err = io.Copy(io.Discard, zr)
	}
	var corrupt flate.CorruptInputError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "unexpected end of file"
	case errors.Is(err, gzip.ErrChecksum):
		return "invalid compressed data--crc error"
	case errors.As(err, &corrupt):
		return "invalid compressed data--format violated"
	case errors.Is(err, gzip.ErrHeader):
		return "decompression OK, trailing garbage ignored"
	}
	return ""
}
