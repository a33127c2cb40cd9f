package scan

// This file is an HTTP/1.x response parser that behaves like the one tcpflow
// 1.6.1 is linked with on Debian (nodejs http-parser 2.9.4, built without
// HTTP_PARSER_STRICT, lenient header parsing off). net/http's ReadResponse
// is not used: it rejects or repairs input that http-parser accepts (bytes
// after a CR, "HTXP/1.1", chunk trailers without CRLF, bare LF lines) and it
// cannot report the byte offsets and restart points tcpflow's report and
// body numbering depend on. Only the behaviour tcpflow can observe is kept:
// message boundaries, header names and values, body bytes and their offsets,
// errors (where parsing stops) and upgrades.

import "errors"

// responseHandler receives the parser's events, like http-parser's callbacks.
type responseHandler interface {
	messageBegin()
	headerField(b []byte)
	headerValue(b []byte)
	headersComplete()
	// body gets body bytes (chunk framing removed) and their offset in the
	// buffer being parsed; an error stops the parser.
	body(offset int, b []byte) error
	messageComplete()
}

type parseState uint8

// The states, in http-parser's order: every state up to stHeadersDone counts
// towards the 80 KiB header limit.
const (
	stStartRes parseState = iota
	stResH
	stResHT
	stResHTT
	stResHTTP
	stResMajor
	stResDot
	stResMinor
	stResEnd
	stResFirstStatus
	stResStatus
	stResStatusStart
	stResReason
	stResLineAlmostDone
	stFieldStart
	stField
	stValueDiscardWS
	stValueDiscardWSAlmostDone
	stValueDiscardLWS
	stValueStart
	stValue
	stValueLWS
	stHeaderAlmostDone
	stChunkSizeStart
	stChunkSize
	stChunkParams
	stChunkSizeAlmostDone
	stHeadersAlmostDone
	stHeadersDone
	stChunkData
	stChunkDataAlmostDone
	stChunkDataDone
	stBodyIdentity
	stBodyIdentityEOF
	stMessageDone
)

// headerState tracks which of the headers http-parser interprets is being
// read (Connection, Content-Length, Transfer-Encoding, Upgrade).
type headerState uint8

const (
	hGeneral headerState = iota
	hC
	hCO
	hCON
	hMatchConnection
	hMatchProxyConnection
	hMatchContentLength
	hMatchTransferEncoding
	hMatchUpgrade
	hConnection
	hContentLength
	hContentLengthNum
	hContentLengthWS
	hTransferEncoding
	hUpgrade
	hMatchTEToken
	hMatchTETokenStart
	hMatchTEChunked
	hTEChunked
	hMatchConnToken
	hMatchConnTokenStart
	hMatchKeepAlive
	hMatchClose
	hMatchConnUpgrade
	hKeepAlive
	hClose
	hConnUpgrade
)

// Message flags.
const (
	fChunked = 1 << iota
	fConnUpgrade
	fTrailing
	fUpgrade
	fContentLength
	fTransferEncoding
)

const (
	maxHeaderSize = 80 * 1024
	noLength      = ^uint64(0)
)

var errParse = errors.New("http parse error")

type responseParser struct {
	h             responseHandler
	state         parseState
	hstate        headerState
	index         int
	flags         uint
	nread         int
	contentLength uint64
	statusCode    int
	upgrade       bool
	err           error

	// While execute runs: the data, the current index, where a pending
	// header name, value or body run started (-1: none), and what to
	// return on stop.
	data                           []byte
	i                              int
	fieldMark, valueMark, bodyMark int
	stopAt                         int
}

func newResponseParser(h responseHandler) *responseParser {
	return &responseParser{h: h, state: stStartRes}
}

// tokenChar is http-parser's non-strict token table: the lower-cased byte
// for header-name characters, 0 for others (space counts as a token).
var tokenChar = func() (t [256]byte) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = byte(c)
		t[c-'a'+'A'] = byte(c)
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c)
	}
	for _, c := range []byte(" !#$%&'*+-.^_`|~") {
		t[c] = c
	}
	return t
}()

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func isHeaderChar(c byte) bool { return c == '\r' || c == '\n' || c == '\t' || (c > 31 && c != 127) }

func lower(c byte) byte { return c | 0x20 }

// matchWord advances a header-name or header-value matcher: it returns
// whether c continues word at p.index and whether the word is now complete.
func (p *responseParser) matchWord(word string, c byte) (ok, done bool) {
	p.index++
	if p.index >= len(word) || c != word[p.index] {
		return false, false
	}
	return true, p.index == len(word)-1
}

// step is what a state handler decided about the current byte.
type step uint8

const (
	consume step = iota // go on with the next byte
	again               // run the new state on the same byte
	stop                // stop parsing; execute returns p.stopAt
)

// execute parses data (the rest of a flow file) and returns how many bytes it
// consumed; fewer than len(data) means an error, or an upgrade (p.upgrade).
func (p *responseParser) execute(data []byte) int {
	if p.err != nil {
		return 0
	}
	p.data, p.fieldMark, p.valueMark, p.bodyMark = data, -1, -1, -1
	for p.i = 0; p.i < len(data); p.i++ {
		if p.state <= stHeadersDone {
			p.nread++
			if p.nread > maxHeaderSize {
				return p.fail(p.i)
			}
		}
		for {
			s := p.step(data[p.i])
			if s == stop {
				return p.stopAt
			}
			if s == consume {
				break
			}
		}
	}
	if p.bodyMark >= 0 {
		if err := p.h.body(p.bodyMark, data[p.bodyMark:]); err != nil {
			p.err = err
		}
	}
	// Header text left at the end is never completed: eof fails it.
	return len(data)
}

// step runs the current state on byte c (data[p.i]).
func (p *responseParser) step(c byte) step {
	switch {
	case p.state <= stResLineAlmostDone:
		return p.statusLine(c)
	case p.state == stField:
		return p.fieldName()
	case p.state == stValue:
		return p.fieldValue()
	case p.state <= stHeaderAlmostDone:
		return p.headerLine(c)
	case p.state <= stChunkSizeAlmostDone:
		return p.chunkSize(c)
	case p.state <= stHeadersDone:
		return p.headersEnd()
	}
	return p.bodyByte()
}

// failStep records a parse error at i: execute returns i.
func (p *responseParser) failStep(i int) step {
	p.stopAt = p.fail(i)
	return stop
}

// statusLine reads "HTTP/1.1 200 Reason\r\n" (non-strict: "HTTP" is not
// checked, a CR may be followed by anything).
func (p *responseParser) statusLine(c byte) step {
	switch p.state {
	case stStartRes:
		if c == '\r' || c == '\n' {
			return consume
		}
		p.flags = 0
		p.contentLength = noLength
		if c != 'H' {
			return p.failStep(p.i)
		}
		p.state = stResH
		p.h.messageBegin()
	case stResH, stResHT, stResHTT:
		p.state++
	case stResHTTP:
		p.state = stResMajor
	case stResMajor, stResDot, stResMinor, stResEnd:
		if !versionByteOK(p.state, c) {
			return p.failStep(p.i)
		}
		p.state++
	case stResFirstStatus:
		if c == ' ' {
			return consume
		}
		if !isDigit(c) {
			return p.failStep(p.i)
		}
		p.statusCode = int(c - '0')
		p.state = stResStatus
	case stResStatus:
		return p.statusDigit(c)
	case stResStatusStart:
		p.state = stResReason
		p.index = 0
		if c == '\r' || c == '\n' {
			return again
		}
	case stResReason:
		if c == '\r' {
			p.state = stResLineAlmostDone
		} else if c == '\n' {
			p.state = stFieldStart
		}
	case stResLineAlmostDone:
		p.state = stFieldStart
	}
	return consume
}

func (p *responseParser) statusDigit(c byte) step {
	switch {
	case isDigit(c):
		p.statusCode = p.statusCode*10 + int(c-'0')
		if p.statusCode > 999 {
			return p.failStep(p.i)
		}
	case c == ' ':
		p.state = stResStatusStart
	case c == '\r' || c == '\n':
		p.state = stResStatusStart
		return again
	default:
		return p.failStep(p.i)
	}
	return consume
}

// headerLine handles the start and end of header lines (and of trailer
// lines after the last chunk), blanks around values and folded lines.
func (p *responseParser) headerLine(c byte) step {
	switch p.state {
	case stFieldStart:
		return p.fieldStart(c)
	case stValueDiscardWS:
		switch c {
		case ' ', '\t':
		case '\r':
			p.state = stValueDiscardWSAlmostDone
		case '\n':
			p.state = stValueDiscardLWS
		default:
			p.state = stValueStart
			return again
		}
	case stValueDiscardWSAlmostDone:
		p.state = stValueDiscardLWS
	case stValueDiscardLWS:
		if c == ' ' || c == '\t' {
			p.state = stValueDiscardWS
			return consume
		}
		if p.hstate == hContentLength {
			return p.failStep(p.i) // an empty Content-Length
		}
		p.endHeaderFlags()
		p.state = stFieldStart
		p.h.headerValue(nil)
		return again
	case stValueStart:
		p.valueMark = p.i
		p.state = stValue
		p.index = 0
		if !p.valueStart(c) {
			return p.failStep(p.i)
		}
	case stHeaderAlmostDone:
		if c != '\n' {
			return p.failStep(p.i)
		}
		p.state = stValueLWS
	case stValueLWS:
		if c == ' ' || c == '\t' {
			if p.hstate == hContentLengthNum {
				p.hstate = hContentLengthWS // obsolete line folding reads as a space
			}
			p.state = stValueStart
			return again
		}
		p.endHeaderFlags()
		p.state = stFieldStart
		return again
	}
	return consume
}

// fieldStart begins a header name, or ends the header block at an empty line.
func (p *responseParser) fieldStart(c byte) step {
	switch c {
	case '\r':
		p.state = stHeadersAlmostDone
		return consume
	case '\n':
		p.state = stHeadersAlmostDone
		return again
	}
	t := tokenChar[c]
	if t == 0 {
		return p.failStep(p.i)
	}
	p.fieldMark = p.i
	p.index = 0
	p.state = stField
	switch t {
	case 'c':
		p.hstate = hC
	case 'p':
		p.hstate = hMatchProxyConnection
	case 't':
		p.hstate = hMatchTransferEncoding
	case 'u':
		p.hstate = hMatchUpgrade
	default:
		p.hstate = hGeneral
	}
	return consume
}

// fieldName reads the rest of a header name up to its colon.
func (p *responseParser) fieldName() step {
	data := p.data
	j := p.i
	for ; j < len(data) && tokenChar[data[j]] != 0; j++ {
		p.fieldChar(data[j], tokenChar[data[j]])
	}
	if st, done := p.endRun(j); done {
		return st
	}
	if data[j] != ':' {
		return p.failStep(j)
	}
	p.state = stValueDiscardWS
	p.h.headerField(data[p.fieldMark:j])
	p.fieldMark = -1
	return consume
}

// endRun moves the cursor from p.i to j, the end of a run of header bytes a
// fast loop read, and counts them; done means the caller returns st (the
// header limit was crossed, or the data ended inside the run).
func (p *responseParser) endRun(j int) (st step, done bool) {
	last := min(j, len(p.data)-1)
	if !p.countHeader(last - p.i) {
		return p.failStep(last), true
	}
	p.i = last
	return consume, j == len(p.data)
}

// fieldValue reads the rest of a header value up to its line end.
func (p *responseParser) fieldValue() step {
	data := p.data
	j := p.i
	for ; j < len(data) && data[j] != '\r' && data[j] != '\n'; j++ {
		if !isHeaderChar(data[j]) || !p.valueChar(data[j]) {
			return p.failStep(j)
		}
	}
	if st, done := p.endRun(j); done {
		return st
	}
	p.state = stHeaderAlmostDone
	p.h.headerValue(data[p.valueMark:j])
	p.valueMark = -1
	if data[j] == '\n' {
		return again
	}
	return consume
}

// chunkSize reads a chunk-size line ("1a;ext\r\n").
func (p *responseParser) chunkSize(c byte) step {
	switch p.state {
	case stChunkSizeStart:
		v := unhex(c)
		if v < 0 {
			return p.failStep(p.i)
		}
		p.contentLength = uint64(v)
		p.state = stChunkSize
	case stChunkSize:
		if c == '\r' {
			p.state = stChunkSizeAlmostDone
			return consume
		}
		v := unhex(c)
		if v < 0 {
			if c == ';' || c == ' ' {
				p.state = stChunkParams
				return consume
			}
			return p.failStep(p.i)
		}
		if (noLength-16)/16 < p.contentLength {
			return p.failStep(p.i)
		}
		p.contentLength = p.contentLength*16 + uint64(v)
	case stChunkParams:
		if c == '\r' {
			p.state = stChunkSizeAlmostDone
		}
	case stChunkSizeAlmostDone:
		p.nread = 0
		if p.contentLength == 0 {
			p.flags |= fTrailing
			p.state = stFieldStart
		} else {
			p.state = stChunkData
		}
	}
	return consume
}

// headersEnd handles the empty line after the headers: it reports them and
// decides how the body is delimited.
func (p *responseParser) headersEnd() step {
	if p.state == stHeadersAlmostDone {
		if p.flags&fTrailing != 0 {
			p.state = stMessageDone
			return again
		}
		if p.flags&fTransferEncoding != 0 && p.flags&fContentLength != 0 {
			return p.failStep(p.i)
		}
		p.state = stHeadersDone
		p.upgrade = p.flags&fUpgrade != 0 && p.flags&fConnUpgrade != 0 && p.statusCode == 101
		p.h.headersComplete()
		return again
	}
	p.nread = 0
	hasBody := p.flags&fChunked != 0 || (p.contentLength > 0 && p.contentLength != noLength)
	if p.upgrade && !hasBody {
		p.state = stStartRes
		p.h.messageComplete()
		p.stopAt = p.i + 1
		return stop
	}
	switch {
	case p.flags&fChunked != 0:
		p.state = stChunkSizeStart
	case p.flags&fTransferEncoding != 0:
		p.state = stBodyIdentityEOF // a response whose last coding is not chunked: read to EOF
	case p.contentLength == 0:
		p.state = stStartRes
		p.h.messageComplete()
	case p.contentLength != noLength:
		p.state = stBodyIdentity
	case !p.needsEOF():
		p.state = stStartRes
		p.h.messageComplete()
	default:
		p.state = stBodyIdentityEOF
	}
	return consume
}

// bodyByte handles body states: it takes whole runs of body bytes at once.
func (p *responseParser) bodyByte() step {
	switch p.state {
	case stBodyIdentity:
		p.bodyMark = p.i
		var done bool
		if p.i, done = p.takeBody(p.i, len(p.data)); done {
			p.state = stMessageDone
			if !p.emitBody(p.i+1, p.i) {
				return stop
			}
			return again
		}
	case stBodyIdentityEOF:
		if p.bodyMark < 0 {
			p.bodyMark = p.i
		}
		p.i = len(p.data) - 1
	case stMessageDone:
		p.state = stStartRes
		p.h.messageComplete()
		if p.upgrade {
			p.stopAt = p.i + 1
			return stop
		}
	case stChunkData:
		p.bodyMark = p.i
		var done bool
		if p.i, done = p.takeBody(p.i, len(p.data)); done {
			p.state = stChunkDataAlmostDone
		}
	case stChunkDataAlmostDone:
		p.state = stChunkDataDone
		if p.bodyMark >= 0 && !p.emitBody(p.i, p.i+1) {
			return stop
		}
	case stChunkDataDone:
		p.nread = 0
		p.state = stChunkSizeStart
	}
	return consume
}

// emitBody hands the body bytes from the mark to end to the handler; false
// means the handler failed and execute returns stopAt.
func (p *responseParser) emitBody(end, stopAt int) bool {
	err := p.h.body(p.bodyMark, p.data[p.bodyMark:end])
	p.bodyMark = -1
	if err != nil {
		p.err = err
		p.stopAt = stopAt
		return false
	}
	return true
}

// takeBody consumes body bytes from i (of end) up to the remaining length;
// it returns the index of the last byte taken and whether the length is
// used up.
func (p *responseParser) takeBody(i, end int) (last int, done bool) {
	n := min(p.contentLength, uint64(end-i))
	p.contentLength -= n
	return i + int(n) - 1, p.contentLength == 0
}

// countHeader adds n bytes read by a fast inner loop to the header size (the
// first byte was counted by the main loop, the terminator is counted here);
// false means the 80 KiB limit was crossed.
func (p *responseParser) countHeader(n int) bool {
	p.nread += n
	return p.nread <= maxHeaderSize
}

func (p *responseParser) fail(i int) int {
	if p.err == nil {
		p.err = errParse
	}
	return i
}

// eof is http-parser's execute with no data: a body that runs to the end of
// the connection is complete; any other unfinished message is an error.
func (p *responseParser) eof() {
	if p.err != nil {
		return
	}
	switch p.state {
	case stBodyIdentityEOF:
		p.h.messageComplete()
	case stStartRes:
	default:
		p.err = errParse
	}
}

// needsEOF is http_message_needs_eof for a response without Content-Length
// or chunking.
func (p *responseParser) needsEOF() bool {
	return !(p.statusCode/100 == 1 || p.statusCode == 204 || p.statusCode == 304)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// versionByteOK checks the "1.1 " after "HTTP/": one digit, a dot, one
// digit, a space.
func versionByteOK(st parseState, c byte) bool {
	switch st {
	case stResDot:
		return c == '.'
	case stResEnd:
		return c == ' '
	}
	return isDigit(c)
}

// fieldChar advances the header-name matcher by one name character (t is
// its token-table form).
func (p *responseParser) fieldChar(c, t byte) {
	switch p.hstate {
	case hC:
		p.index++
		p.hstate = hGeneral
		if t == 'o' {
			p.hstate = hCO
		}
	case hCO:
		p.index++
		p.hstate = hGeneral
		if t == 'n' {
			p.hstate = hCON
		}
	case hCON:
		p.index++
		switch t {
		case 'n':
			p.hstate = hMatchConnection
		case 't':
			p.hstate = hMatchContentLength
		default:
			p.hstate = hGeneral
		}
	case hMatchConnection:
		p.matchName("connection", t, hConnection)
	case hMatchProxyConnection:
		p.matchName("proxy-connection", t, hConnection)
	case hMatchContentLength:
		p.matchName("content-length", t, hContentLength)
	case hMatchTransferEncoding:
		if p.matchName("transfer-encoding", t, hTransferEncoding) {
			p.flags |= fTransferEncoding
		}
	case hMatchUpgrade:
		p.matchName("upgrade", t, hUpgrade)
	case hConnection, hContentLength, hTransferEncoding, hUpgrade:
		if c != ' ' {
			p.hstate = hGeneral
		}
	}
}

// matchName advances a header-name match (a mismatch makes it a general
// header); it reports whether the name just completed.
func (p *responseParser) matchName(word string, t byte, done headerState) bool {
	return p.matchValue(word, t, hGeneral, done)
}

// valueStart handles the first byte of a header value; false is an error.
func (p *responseParser) valueStart(c byte) bool {
	lc := lower(c)
	switch p.hstate {
	case hUpgrade:
		p.flags |= fUpgrade
		p.hstate = hGeneral
	case hTransferEncoding:
		if lc == 'c' {
			p.hstate = hMatchTEChunked
		} else {
			p.hstate = hMatchTEToken
		}
	case hMatchTETokenStart, hContentLengthWS, hMatchConnTokenStart:
	case hContentLength:
		if !isDigit(c) || p.flags&fContentLength != 0 {
			return false
		}
		p.flags |= fContentLength
		p.contentLength = uint64(c - '0')
		p.hstate = hContentLengthNum
	case hConnection:
		p.hstate = connTokenStart(lc)
	default:
		p.hstate = hGeneral
	}
	return true
}

func connTokenStart(lc byte) headerState {
	switch lc {
	case 'k':
		return hMatchKeepAlive
	case 'c':
		return hMatchClose
	case 'u':
		return hMatchConnUpgrade
	}
	return hMatchConnToken
}

func strictToken(c byte) bool { return c != ' ' && tokenChar[c] != 0 }

// valueChar advances the header-value matcher by one byte; false is an error.
func (p *responseParser) valueChar(c byte) bool {
	lc := lower(c)
	switch p.hstate {
	case hGeneral:
	case hContentLength, hContentLengthNum:
		if p.hstate == hContentLength {
			if c == ' ' {
				break
			}
			p.hstate = hContentLengthNum
		}
		if c == ' ' {
			p.hstate = hContentLengthWS
			break
		}
		if !isDigit(c) || (noLength-10)/10 < p.contentLength {
			return false
		}
		p.contentLength = p.contentLength*10 + uint64(c-'0')
	case hContentLengthWS:
		return c == ' '
	case hMatchTETokenStart:
		p.listTokenStart(c, lc == 'c', hMatchTEChunked, hMatchTEToken)
	case hMatchTEChunked:
		p.matchValue("chunked", lc, hMatchTEToken, hTEChunked)
	case hMatchTEToken:
		p.nextListToken(c, hMatchTETokenStart)
	case hMatchConnTokenStart:
		p.listTokenStart(c, lc == 'k' || lc == 'c' || lc == 'u', connTokenStart(lc), hMatchConnToken)
	case hMatchKeepAlive:
		p.matchValue("keep-alive", lc, hMatchConnToken, hKeepAlive)
	case hMatchClose:
		p.matchValue("close", lc, hMatchConnToken, hClose)
	case hMatchConnUpgrade:
		p.matchValue("upgrade", lc, hMatchConnToken, hConnUpgrade)
	case hMatchConnToken:
		p.nextListToken(c, hMatchConnTokenStart)
	case hTEChunked:
		if c != ' ' {
			p.hstate = hMatchTEToken
		}
	case hKeepAlive, hClose, hConnUpgrade:
		if c == ',' {
			if p.hstate == hConnUpgrade {
				p.flags |= fConnUpgrade
			}
			p.hstate = hMatchConnTokenStart
			p.index = 0
		} else if c != ' ' {
			p.hstate = hMatchConnToken
		}
	default:
		p.hstate = hGeneral
	}
	return true
}

// nextListToken moves to the next element of a list-valued header at a comma.
func (p *responseParser) nextListToken(c byte, start headerState) {
	if c == ',' {
		p.hstate = start
		p.index = 0
	}
}

// listTokenStart handles the first byte after a comma in a list-valued
// header: a byte that starts a wanted word begins matching it, another token
// byte an unwanted token; blanks are skipped; anything else ends matching.
func (p *responseParser) listTokenStart(c byte, wanted bool, matching, unwanted headerState) {
	switch {
	case wanted:
		p.hstate = matching
	case strictToken(lower(c)):
		p.hstate = unwanted
	case c == ' ' || c == '\t':
	default:
		p.hstate = hGeneral
	}
}

// matchValue advances the match of word: a mismatch moves to miss, the last
// byte to done (and reports true).
func (p *responseParser) matchValue(word string, lc byte, miss, done headerState) bool {
	ok, complete := p.matchWord(word, lc)
	switch {
	case !ok:
		p.hstate = miss
	case complete:
		p.hstate = done
		return true
	}
	return false
}

// endHeaderFlags records what a finished Connection or Transfer-Encoding
// header said (keep-alive and close do not matter in non-strict mode).
func (p *responseParser) endHeaderFlags() {
	switch p.hstate {
	case hTEChunked:
		p.flags |= fChunked
	case hConnUpgrade:
		p.flags |= fConnUpgrade
	}
}
