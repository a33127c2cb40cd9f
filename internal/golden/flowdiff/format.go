package flowdiff

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
)

// The stored form is line-oriented text so that goldens review well in git:
//
//	exit 0
//	-- stdout text 45
//	<exactly 45 bytes, then a newline if they did not end with one>
//	-- stderr quoted
//	"line with \x00 bytes\n"
//	-- dir "out" 0755
//	-- file "out/x" 0644 1600000000.003000 text 4
//	abcd
//
// Bodies made of printable ASCII, tab, CR and LF are stored as they are
// ("text" with a byte count); anything else as Go-quoted strings, one per
// line, each ending after a "\n" byte or 64 bytes ("quoted").

const quotedChunk = 64

// Marshal encodes s in the stored form.
func Marshal(s *Snapshot) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "exit %d\n", s.Exit)
	writeBody(&b, "-- stdout", s.Stdout)
	writeBody(&b, "-- stderr", s.Stderr)
	for _, e := range s.Entries {
		switch e.Kind {
		case KindDir:
			fmt.Fprintf(&b, "-- dir %s %04o\n", strconv.Quote(e.Path), e.Mode)
		case KindSymlink:
			fmt.Fprintf(&b, "-- symlink %s %s\n", strconv.Quote(e.Path), strconv.Quote(string(e.Data)))
		default:
			writeBody(&b, fmt.Sprintf("-- file %s %04o %s", strconv.Quote(e.Path), e.Mode, e.Mtime), e.Data)
		}
	}
	return b.Bytes()
}

func writeBody(b *bytes.Buffer, header string, data []byte) {
	if isText(data) {
		fmt.Fprintf(b, "%s text %d\n", header, len(data))
		b.Write(data)
		if len(data) > 0 && data[len(data)-1] != '\n' {
			b.WriteByte('\n')
		}
		return
	}
	fmt.Fprintf(b, "%s quoted\n", header)
	for len(data) > 0 {
		n := bytes.IndexByte(data, '\n') + 1
		if n == 0 || n > quotedChunk {
			n = min(quotedChunk, len(data))
		}
		b.WriteString(strconv.Quote(string(data[:n])))
		b.WriteByte('\n')
		data = data[n:]
	}
}

func isText(data []byte) bool {
	for _, c := range data {
		if (c < 0x20 || c > 0x7e) && c != '\n' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// Unmarshal decodes the stored form.
func Unmarshal(data []byte) (*Snapshot, error) {
	r := &reader{rd: bufio.NewReader(bytes.NewReader(data)), size: len(data)}
	s, err := r.snapshot()
	if err != nil {
		return nil, fmt.Errorf("parse snapshot line %d: %w", r.line, err)
	}
	return s, nil
}

type reader struct {
	rd      *bufio.Reader
	size    int // of the whole input: no body can be longer
	line    int
	pending string // a header line read ahead while collecting quoted lines
}

func (r *reader) next() (string, error) {
	if r.pending != "" {
		l := r.pending
		r.pending = ""
		return l, nil
	}
	l, err := r.rd.ReadString('\n')
	if err != nil {
		if errors.Is(err, io.EOF) && l == "" {
			return "", errEOF
		}
		return "", fmt.Errorf("unterminated line %q", l)
	}
	r.line++
	return strings.TrimSuffix(l, "\n"), nil
}

var errEOF = errors.New("end of snapshot")

func (r *reader) snapshot() (*Snapshot, error) {
	first, err := r.next()
	if err != nil {
		return nil, err
	}
	s := &Snapshot{}
	if _, err := fmt.Sscanf(first, "exit %d", &s.Exit); err != nil {
		return nil, fmt.Errorf("want \"exit N\", got %q", first)
	}
	for {
		l, err := r.next()
		if errors.Is(err, errEOF) {
			return s, nil
		}
		if err != nil {
			return nil, err
		}
		if err := r.section(s, l); err != nil {
			return nil, err
		}
	}
}

func (r *reader) section(s *Snapshot, header string) error {
	f, err := splitHeader(header)
	if err != nil {
		return err
	}
	switch {
	case f[0] == "stdout" || f[0] == "stderr":
		body, err := r.body(f[1:])
		if err != nil {
			return err
		}
		if f[0] == "stdout" {
			s.Stdout = body
		} else {
			s.Stderr = body
		}
	case f[0] == "dir" && len(f) == 3:
		mode, err := strconv.ParseUint(f[2], 8, 32)
		if err != nil {
			return fmt.Errorf("bad mode in %q", header)
		}
		s.Entries = append(s.Entries, Entry{Path: f[1], Kind: KindDir, Mode: fs.FileMode(mode)})
	case f[0] == "symlink" && len(f) == 3:
		s.Entries = append(s.Entries, Entry{Path: f[1], Kind: KindSymlink, Data: []byte(f[2])})
	case f[0] == "file" && len(f) >= 5:
		mode, err := strconv.ParseUint(f[2], 8, 32)
		if err != nil {
			return fmt.Errorf("bad mode in %q", header)
		}
		body, err := r.body(f[4:])
		if err != nil {
			return err
		}
		s.Entries = append(s.Entries, Entry{Path: f[1], Kind: KindFile, Mode: fs.FileMode(mode), Mtime: f[3], Data: body})
	default:
		return fmt.Errorf("unknown section header %q", header)
	}
	return nil
}

// splitHeader splits "-- kind fields…" into fields, unquoting quoted ones.
func splitHeader(h string) ([]string, error) {
	rest, ok := strings.CutPrefix(h, "-- ")
	if !ok {
		return nil, fmt.Errorf("want a section header, got %q", h)
	}
	var f []string
	for rest != "" {
		if rest[0] == '"' {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return nil, fmt.Errorf("bad quoted field in %q", h)
			}
			v, _ := strconv.Unquote(q)
			f = append(f, v)
			rest = strings.TrimPrefix(rest[len(q):], " ")
			continue
		}
		w, tail, _ := strings.Cut(rest, " ")
		f = append(f, w)
		rest = tail
	}
	if len(f) == 0 {
		return nil, fmt.Errorf("empty section header %q", h)
	}
	return f, nil
}

func (r *reader) body(enc []string) ([]byte, error) {
	switch {
	case len(enc) == 2 && enc[0] == "text":
		n, err := strconv.Atoi(enc[1])
		if err != nil || n < 0 || n > r.size {
			return nil, fmt.Errorf("bad text length %q", enc[1])
		}
		return r.text(n)
	case len(enc) == 1 && enc[0] == "quoted":
		return r.quoted()
	}
	return nil, fmt.Errorf("unknown body encoding %q", enc)
}

func (r *reader) text(n int) ([]byte, error) {
	buf := make([]byte, n)
	if _, err := io.ReadFull(r.rd, buf); err != nil {
		return nil, fmt.Errorf("text body of %d bytes: %w", n, err)
	}
	r.line += bytes.Count(buf, []byte{'\n'})
	if n > 0 && buf[n-1] != '\n' {
		if c, err := r.rd.ReadByte(); err != nil || c != '\n' {
			return nil, errors.New("text body not followed by a newline")
		}
		r.line++
	}
	return buf, nil
}

func (r *reader) quoted() ([]byte, error) {
	out := []byte{}
	for {
		l, err := r.next()
		if errors.Is(err, errEOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(l, `"`) {
			r.pending = l
			return out, nil
		}
		v, err := strconv.Unquote(l)
		if err != nil {
			return nil, fmt.Errorf("bad quoted line %q", l)
		}
		out = append(out, v...)
	}
}
