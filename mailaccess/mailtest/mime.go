package mailtest

import (
	"bytes"
	"fmt"
	"mime"
	"strings"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// splitEntity splits raw at the blank line that ends its header. Without
// one, everything is header and the body is empty.
func splitEntity(raw []byte) (hdr, body []byte) {
	for i := 0; i < len(raw); {
		j := bytes.IndexByte(raw[i:], '\n')
		line := raw[i:]
		if j >= 0 {
			line = raw[i : i+j+1]
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 && len(line) > 0 && (line[0] == '\n' || line[0] == '\r') {
			return raw[:i], raw[i+len(line):]
		}
		if j < 0 {
			break
		}
		i += j + 1
	}
	return raw, nil
}

// mediaType returns the lower-case media type and parameters of an entity
// header (text/plain when absent or unparseable).
func mediaType(hdr []byte) (string, map[string]string) {
	h, err := mailaccess.ParseHeader(bytes.NewReader(hdr))
	if err != nil {
		return "text/plain", nil
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt == "" {
		return "text/plain", nil
	}
	return strings.ToLower(mt), params
}

// multipartParts splits a multipart body into its parts (header and body
// of each), without the delimiter lines and the line ending before them.
func multipartParts(body []byte, boundary string) [][]byte {
	delim := []byte("--" + boundary)
	var parts [][]byte
	start := -1 // start of the current part's content
	for i := 0; i < len(body); {
		j := bytes.IndexByte(body[i:], '\n')
		end := len(body)
		if j >= 0 {
			end = i + j + 1
		}
		line := bytes.TrimRight(body[i:end], " \t\r\n")
		if bytes.HasPrefix(line, delim) {
			rest := line[len(delim):]
			if len(rest) == 0 || string(rest) == "--" {
				if start >= 0 {
					stop := i
					// The line ending before a delimiter belongs to it.
					if stop > start && body[stop-1] == '\n' {
						stop--
						if stop > start && body[stop-1] == '\r' {
							stop--
						}
					}
					parts = append(parts, body[start:stop])
				}
				if string(rest) == "--" {
					return parts
				}
				start = end
			}
		}
		i = end
	}
	if start >= 0 && start <= len(body) {
		parts = append(parts, body[start:]) // unterminated last part
	}
	return parts
}

// partBody returns the raw (still transfer-encoded) body of the MIME part
// at path, numbered as IMAP BODY[1.2] does.
func partBody(raw []byte, path []int) ([]byte, error) {
	entity := raw
	for i, n := range path {
		hdr, body := splitEntity(entity)
		mt, params := mediaType(hdr)
		if strings.HasPrefix(mt, "multipart/") && params["boundary"] != "" {
			parts := multipartParts(body, params["boundary"])
			if n < 1 || n > len(parts) {
				return nil, fmt.Errorf("part %s: %w", pathString(path[:i+1]), mailaccess.ErrNotFound)
			}
			entity = parts[n-1]
			if i+1 < len(path) {
				ph, pb := splitEntity(entity)
				switch pt, _ := mediaType(ph); {
				case pt == "message/rfc822":
					entity = pb // descend into the encapsulated message
				case !strings.HasPrefix(pt, "multipart/"):
					return nil, fmt.Errorf("part %s: %w", pathString(path[:i+2]), mailaccess.ErrNotFound)
				}
			}
			continue
		}
		if n != 1 {
			return nil, fmt.Errorf("part %s: %w", pathString(path[:i+1]), mailaccess.ErrNotFound)
		}
		if i+1 < len(path) {
			if mt != "message/rfc822" {
				return nil, fmt.Errorf("part %s: %w", pathString(path[:i+2]), mailaccess.ErrNotFound)
			}
			entity = body
		}
	}
	_, body := splitEntity(entity)
	return body, nil
}

func pathString(p []int) string {
	s := make([]string, len(p))
	for i, n := range p {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ".")
}
