package scan

import (
	"bytes"
	"context"
	"encoding/hex"
)

// MD5 is tcpflow's md5 scanner: the flow file's digest in report.xml.
type MD5 struct{}

// Name implements Scanner.
func (MD5) Name() string { return "md5" }

// Scan implements Scanner.
func (MD5) Scan(_ context.Context, buf *Buffer, report *bytes.Buffer) error {
	sum := buf.MD5()
	report.WriteString("<hashdigest type='MD5'>")
	report.WriteString(hex.EncodeToString(sum[:]))
	report.WriteString("</hashdigest>")
	return nil
}
