package pcapfile

import (
	"archive/zip"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"

	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// Open opens a capture file for reading: "-" is standard input, and names
// ending in .gz, .bz2, .xz, .lzma or .zip are decompressed in-process
// (tcpflow pipes them through gunzip, bunzip2, unxz, unlzma, unzip -p).
func Open(path string) (*Reader, error) {
	var f *os.File
	if path == "-" {
		f = os.Stdin
	} else {
		var err error
		if f, err = os.Open(path); err != nil {
			if compressed(path) {
				return nil, emptyPipe(err)
			}
			return nil, &Error{Msg: path + ": " + strerror(err), Err: err}
		}
	}
	src, err := decompress(path, f)
	if err == nil {
		var rd *Reader
		if rd, err = NewReader(src); err == nil {
			if path != "-" {
				rd.closer = f
			}
			return rd, nil
		}
	}
	if path != "-" {
		err = errors.Join(err, f.Close())
	}
	return nil, err
}

// decompress wraps f in the decompressor its name asks for.
func decompress(path string, f *os.File) (io.Reader, error) {
	var (
		r   io.Reader
		err error
	)
	switch {
	case strings.HasSuffix(path, ".gz"):
		r, err = gzip.NewReader(f)
	case strings.HasSuffix(path, ".bz2"):
		r = bzip2.NewReader(f)
	case strings.HasSuffix(path, ".xz"):
		r, err = xz.NewReader(f)
	case strings.HasSuffix(path, ".lzma"):
		r, err = lzma.NewReader(f)
	case strings.HasSuffix(path, ".zip"):
		r, err = unzip(f)
	default:
		return f, nil
	}
	if err != nil {
		return nil, emptyPipe(err)
	}
	return r, nil
}

// unzip reads every member of a zip archive in order, as "unzip -p" prints
// them. The members' readers hold nothing beyond f, which Close closes.
func unzip(f *os.File) (io.Reader, error) {
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(f, info.Size())
	if err != nil {
		return nil, err
	}
	var members []io.Reader
	for _, m := range zr.File {
		if m.FileInfo().IsDir() {
			continue
		}
		rc, err := m.Open()
		if err != nil {
			return nil, err
		}
		members = append(members, rc)
	}
	return io.MultiReader(members...), nil
}

func compressed(path string) bool {
	for _, ext := range []string{".gz", ".bz2", ".xz", ".lzma", ".zip"} {
		if strings.HasSuffix(path, ext) {
			return true
		}
	}
	return false
}

// emptyPipe is what tcpflow reports when its decompressor fails at once:
// libpcap reads an empty pipe (the decompressor's own complaint, in Err, is
// printed by gzip/bunzip2 before it).
func emptyPipe(err error) error {
	return &Error{Msg: "truncated dump file; tried to read 4 file header bytes, only got 0", Err: err}
}

// strerror words an open error as C's strerror does ("No such file or
// directory"); Go's errno texts are the same words, lower-cased.
func strerror(err error) string {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return err.Error()
	}
	s := errno.Error()
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}
