package scan

import "strings"

// extensionFor returns the body file extension for a Content-Type value, as
// tcpflow 1.6.1 derives it: parameters after the first ';' are dropped, the
// rest is lower-cased and looked up verbatim (no trimming, so "text/html "
// has no extension).
func extensionFor(contentType string) string {
	if i := strings.IndexByte(contentType, ';'); i >= 0 {
		contentType = contentType[:i]
	}
	return mimeExtensions[asciiLower(contentType)]
}

// asciiLower lower-cases ASCII letters only, like C's tolower in the "C" locale.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
