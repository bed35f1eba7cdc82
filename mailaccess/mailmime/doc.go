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
// [ParseStructure] describes a message's MIME parts as a
// [mailaccess.PartInfo] tree, and [FindPart], [ReadPart] and [DecodePart]
// read one part, decoded: the drivers without a server that describes
// messages (POP3, Maildir, the fake) build [mailaccess.Mailbox].Structure
// and OpenPart on them, and the IMAP driver falls back to them when a
// server's BODYSTRUCTURE cannot be used.
//
// Broken mail (unknown charset or transfer encoding, a multipart without
// its boundary, missing headers) is read as far as possible; what was
// worked around is listed in [Content].Problems and [Part].Problem. The raw
// bytes are always reachable through [mailaccess.Mailbox].Open.
//
// # Limits
//
// Reading is bounded against hostile messages ([Limits], configurable
// with [WalkLimits], ContentOptions.Limits and the lim argument of the
// structure functions): multiparts nest at most [DefaultMaxDepth] levels
// (deeper ones are read as one opaque part), every header block, the
// message's and each part's, is at most [mailaccess.MaxHeaderBytes], and a
// message has at most [DefaultMaxParts] parts. Going beyond a header or
// part limit is an error wrapping [ErrLimit] that names the field to
// raise. Attachment names are given twice: as sent (RawFilename) and made
// safe to use as a file name ([SafeFilename]).
package mailmime
