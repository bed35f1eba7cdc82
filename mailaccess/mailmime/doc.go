// Package mailmime reads a message for display: the decoded header, the
// text and HTML bodies in UTF-8 whatever their charset and transfer
// encoding, and the attachments, streamed past in bounded memory.
//
// [ReadContent] returns a message's [Content] in one call; [Walk] calls a
// function for every leaf part, streaming each part's decoded body, for
// programs that need more control (saving attachments as they arrive,
// stopping after the first text part).
//
//	rc, err := msg.Open(ctx) // a mailaccess.Message
//	...
//	defer rc.Close()
//	c, err := mailmime.ReadContent(rc, nil)
//	fmt.Println(c.Header.Subject(), c.Text)
//
// Broken mail (unknown charset or transfer encoding, a multipart without
// its boundary, missing headers) is read as far as possible; what was
// worked around is listed in [Content].Problems and [Part].Problem. The raw
// bytes are always reachable through [mailaccess.Mailbox].Open.
package mailmime
