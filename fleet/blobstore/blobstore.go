// Package blobstore is a [mailaccess.Mailbox] over object storage through
// gocloud.dev/blob: a destination for the sync engine beside Maildir, for
// a fleet whose mail does not live on one machine's disk.
//
//	st, err := blobstore.Open(ctx, "s3://archive-bucket?region=eu-west-1", &blobstore.Options{Prefix: "acme/"})
//	st, err := blobstore.Open(ctx, "file:///var/mail/fleet", nil) // local files, the embedded default
//	st, err := blobstore.Open(ctx, "mem://", nil)                // in memory, for tests
//
// The URL schemes are gocloud.dev's: file:// and mem:// are linked in;
// a program that stores on S3, GCS or Azure imports the driver package
// (gocloud.dev/blob/s3blob, gcsblob, azureblob) for its side effect.
//
// # Layout
//
// A message is one object, PREFIX + FOLDER + "/" + ID + ".eml", holding
// the message's bytes exactly as appended. A folder other than INBOX
// exists when its marker object PREFIX + FOLDER + "/.folder" does. Folder
// names are flat ("." is reported as the hierarchy delimiter, as in
// Maildir++) and may not contain "/", "\", NUL, CR, LF, or be "." or "..".
// IDs are "k-KEY" for keyed appends and "u-" followed by the time of the
// append in nanoseconds and a random suffix for the others, so List,
// which yields messages in key order, yields unkeyed appends in append
// order.
//
// # Keyed appends
//
// [Store.AppendWithKey] writes the object of ID "k-KEY" with the bucket's
// conditional write (If-None-Match, WriterOptions.IfNotExist), which
// S3, GCS, Azure, fileblob and memblob honour: when two workers, or a
// re-run after a crash, append the same key, one object is written and
// the other append finds it and returns its ID. A key names one message
// (the sync engine derives it from the account, folder, UIDVALIDITY and
// source ID), so an existing object is never compared or rewritten.
//
// # Durability
//
// On S3, GCS and Azure an object is durable when its upload completes,
// which is when Append returns. On file:// the object's data is fsynced
// before fileblob renames it into place, so an object that exists is
// whole; the renames are made durable by [Store.Flush] (one fsync per
// directory written to), which the sync engine calls before it commits
// its state. mem:// keeps nothing across a restart.
//
// # Capabilities
//
// folders, uid, delete, append, copy, manage-folders; offline for file://
// and mem://. Not flags or keywords (objects carry no server flags:
// nothing would store them), not headers or partial (FetchHeader reads
// the object up to the end of its header), not search (it would download
// every object), not move (emulated by copy then delete, which a crash
// can leave in both folders, never in neither), not push (Watch polls a
// listing), not changes. Status and List cost one listing request per
// 1,000 objects. The internal date is the object's modification time for
// file:// (set from AppendOptions.Date); other buckets keep the date in
// the object's metadata ("mailaccess-date") and List reports a zero
// internal date.
//
// As exposes the *blob.Bucket (target **blob.Bucket), which is not
// portable.
package blobstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file://
	_ "gocloud.dev/blob/memblob"  // mem://
	"gocloud.dev/gcerrors"

	"github.com/mailaccess/go-mailaccess/mailaccess"
	"github.com/mailaccess/go-mailaccess/mailaccess/driver"
)

const protocol = "blob"

var errs = driver.Errors{Protocol: protocol, Classify: classify}

func classify(err error) error {
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		return fmt.Errorf("%w: %w", mailaccess.ErrNotFound, err)
	case gcerrors.ResourceExhausted, gcerrors.Unknown, gcerrors.Internal, gcerrors.DeadlineExceeded:
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("%w: %w", mailaccess.ErrTemporary, err)
		}
	case gcerrors.PermissionDenied:
		return fmt.Errorf("%w: %w", mailaccess.ErrAuth, err)
	}
	return err
}

// Options configure a [Store]; nil means the defaults.
type Options struct {
	// Prefix is prepended to every object key, so many accounts (or other
	// data) share a bucket: "acme/" keeps an account under acme/. It must
	// be empty or end with "/".
	Prefix string
	// Logger receives the store's logs; nil means silent.
	Logger *slog.Logger
}

// Store is a Mailbox over a bucket. It is safe for concurrent use.
type Store struct {
	b      *blob.Bucket
	owned  bool
	prefix string
	root   string // file:// buckets: the directory, for fsync and dates
	offln  bool
	log    *slog.Logger

	mu     sync.Mutex
	dirty  map[string]bool // file:// directories renamed into since Flush
	closed atomic.Bool
}

// Capabilities of every Store; [CapOffline] is added for file:// and
// mem:// buckets.
const Capabilities = mailaccess.CapFolders | mailaccess.CapUID | mailaccess.CapDelete | mailaccess.CapAppend |
	mailaccess.CapCopy | mailaccess.CapManageFolders

// Open opens the bucket at bucketURL (gocloud.dev's URL forms) as a
// Store. For file:// the directory is created if missing, and
// temporary files are kept beside the objects so that a rename puts a
// whole object in place. Close closes the bucket.
func Open(ctx context.Context, bucketURL string, opts *Options) (*Store, error) {
	u, err := url.Parse(bucketURL)
	if err != nil {
		return nil, fmt.Errorf("blobstore: bucket URL: %w", mailaccess.ErrInvalid)
	}
	root := ""
	if u.Scheme == "file" {
		root = filepath.FromSlash(u.Path)
		q := u.Query()
		q.Set("create_dir", "true")
		q.Set("no_tmp_dir", "true")
		q.Set("metadata", "skip")
		u.RawQuery = q.Encode()
	}
	b, err := blob.OpenBucket(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("blobstore: open bucket %s://%s: %w", u.Scheme, u.Host, err)
	}
	s, err := newStore(b, root, u.Scheme == "file" || u.Scheme == "mem", opts)
	if err != nil {
		b.Close()
		return nil, err
	}
	s.owned = true
	return s, nil
}

// New returns a Store over a bucket the caller opened and closes. Its
// capabilities do not include offline, and Flush does nothing (use Open
// for file:// buckets).
func New(b *blob.Bucket, opts *Options) (*Store, error) {
	return newStore(b, "", false, opts)
}

func newStore(b *blob.Bucket, root string, offline bool, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Prefix != "" && (!strings.HasSuffix(o.Prefix, "/") || strings.Contains(o.Prefix, "..") || strings.HasPrefix(o.Prefix, "/")) {
		return nil, fmt.Errorf("blobstore: prefix %q: want a relative path ending in \"/\": %w", o.Prefix, mailaccess.ErrInvalid)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Store{b: b, prefix: o.Prefix, root: root, offln: offline, log: o.Logger, dirty: map[string]bool{}}, nil
}

// Protocol returns "blob".
func (s *Store) Protocol() string { return protocol }

// Capabilities reports what the store can do; see the package doc.
func (s *Store) Capabilities() mailaccess.Capability {
	if s.offln {
		return Capabilities | mailaccess.CapOffline
	}
	return Capabilities
}

// As sets an optional interface of the store, or a **blob.Bucket.
func (s *Store) As(target any) bool {
	if driver.AsInterface(s, target) {
		return true
	}
	if p, ok := target.(**blob.Bucket); ok {
		*p = s.b
		return true
	}
	return false
}

// Close closes the bucket if Open opened it. It is idempotent.
func (s *Store) Close() error {
	if s.closed.Swap(true) || !s.owned {
		return nil
	}
	return s.b.Close()
}

func (s *Store) begin(ctx context.Context) error {
	if s.closed.Load() {
		return mailaccess.ErrClosed
	}
	return ctx.Err()
}

var badFolder = regexp.MustCompile(`[/\\\x00\r\n]`)

// dir returns the key prefix of a folder's objects.
func (s *Store) dir(folder string) (string, error) {
	if strings.EqualFold(folder, mailaccess.Inbox) {
		return s.prefix + mailaccess.Inbox + "/", nil
	}
	if folder == "" || folder == "." || folder == ".." || badFolder.MatchString(folder) || strings.HasPrefix(folder, ".") {
		return "", fmt.Errorf("folder name %q: must not be empty, start with \".\", or contain \"/\", \"\\\", NUL, CR or LF: %w", folder, mailaccess.ErrInvalid)
	}
	return s.prefix + folder + "/", nil
}

const markerName = ".folder"

var validID = regexp.MustCompile(`^[ku]-[A-Za-z0-9_-]{1,200}$`)

func (s *Store) objectKey(folder string, id mailaccess.ID) (string, error) {
	d, err := s.dir(folder)
	if err != nil {
		return "", err
	}
	if !validID.MatchString(string(id)) {
		return "", fmt.Errorf("message ID %q: %w: not an ID of this store", id, mailaccess.ErrNotFound)
	}
	return d + string(id) + ".eml", nil
}

// exists reports whether folder exists (INBOX always does).
func (s *Store) exists(ctx context.Context, folder string) (string, error) {
	d, err := s.dir(folder)
	if err != nil {
		return "", err
	}
	if strings.EqualFold(folder, mailaccess.Inbox) {
		return d, nil
	}
	ok, err := s.b.Exists(ctx, d+markerName)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("folder %q: %w", folder, mailaccess.ErrNotFound)
	}
	return d, nil
}

// Folders lists INBOX and the folders with a marker.
func (s *Store) Folders(ctx context.Context) ([]mailaccess.Folder, error) {
	if err := s.begin(ctx); err != nil {
		return nil, errs.Op("folders", "", err)
	}
	out := []mailaccess.Folder{{Name: mailaccess.Inbox, Delimiter: ".", Role: mailaccess.RoleInbox}}
	it := s.b.List(&blob.ListOptions{Prefix: s.prefix, Delimiter: "/"})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, errs.Op("folders", "", err)
		}
		if !obj.IsDir {
			continue
		}
		name := strings.TrimSuffix(strings.TrimPrefix(obj.Key, s.prefix), "/")
		if strings.EqualFold(name, mailaccess.Inbox) {
			continue
		}
		if ok, err := s.b.Exists(ctx, obj.Key+markerName); err != nil {
			return nil, errs.Op("folders", "", err)
		} else if ok {
			out = append(out, mailaccess.Folder{Name: name, Delimiter: "."})
		}
	}
	return out, nil
}

// listRestarts bounds how often a listing restarts after an entry
// vanished under it.
const listRestarts = 100

// objects iterates over the message objects of a folder in key order.
// fileblob stats each directory entry it lists, so a temporary file of a
// concurrent append that is renamed or removed between the directory
// read and the stat fails the listing with NotFound; the listing then
// restarts after the last key it yielded (keys come in order), so a
// folder being written to lists without error.
func (s *Store) objects(ctx context.Context, d string) iter.Seq2[*blob.ListObject, error] {
	return func(yield func(*blob.ListObject, error) bool) {
		last := ""
		for restarts := 0; ; restarts++ {
			it := s.b.List(&blob.ListOptions{Prefix: d, Delimiter: "/"})
			for {
				obj, err := it.Next(ctx)
				if err == io.EOF {
					return
				}
				if err != nil {
					if gcerrors.Code(err) == gcerrors.NotFound && restarts < listRestarts && ctx.Err() == nil {
						break // an entry vanished under the listing: restart
					}
					yield(nil, err)
					return
				}
				if obj.Key <= last {
					continue // yielded before a restart
				}
				id, ok := strings.CutSuffix(strings.TrimPrefix(obj.Key, d), ".eml")
				if obj.IsDir || !ok || !validID.MatchString(id) {
					continue // the marker, fileblob's temporary files
				}
				last = obj.Key
				if !yield(obj, nil) {
					return
				}
			}
		}
	}
}

func (s *Store) infoOf(folder, d string, obj *blob.ListObject) mailaccess.MessageInfo {
	info := mailaccess.MessageInfo{
		ID:     mailaccess.ID(strings.TrimSuffix(strings.TrimPrefix(obj.Key, d), ".eml")),
		Folder: folder,
		Size:   obj.Size,
	}
	if s.root != "" {
		info.InternalDate = obj.ModTime
	}
	return info
}

// Status counts the folder's objects. UIDValidity is the constant 1: IDs
// never change.
func (s *Store) Status(ctx context.Context, folder string) (mailaccess.FolderStatus, error) {
	if err := s.begin(ctx); err != nil {
		return mailaccess.FolderStatus{}, errs.Op("status", folder, err)
	}
	d, err := s.exists(ctx, folder)
	if err != nil {
		return mailaccess.FolderStatus{}, errs.Op("status", folder, err)
	}
	st := mailaccess.FolderStatus{Name: folder, UIDValidity: 1}
	for obj, err := range s.objects(ctx, d) {
		if err != nil {
			return mailaccess.FolderStatus{}, errs.Op("status", folder, err)
		}
		st.Messages++
		st.Size += obj.Size
	}
	return st, nil
}

// List yields the folder's messages in ID order; with opts.Headers each
// message's header is read (one request per message).
func (s *Store) List(ctx context.Context, folder string, opts *mailaccess.ListOptions) iter.Seq2[mailaccess.Message, error] {
	return func(yield func(mailaccess.Message, error) bool) {
		if err := s.begin(ctx); err != nil {
			yield(nil, errs.Op("list", folder, err))
			return
		}
		if opts != nil && opts.ChangedSince != 0 {
			yield(nil, errs.Unsupported("list changed since", mailaccess.CapChanges, "objects keep no modification sequence"))
			return
		}
		d, err := s.exists(ctx, folder)
		if err != nil {
			yield(nil, errs.Op("list", folder, err))
			return
		}
		for obj, err := range s.objects(ctx, d) {
			if err != nil {
				yield(nil, errs.Op("list", folder, err))
				return
			}
			info := s.infoOf(folder, d, obj)
			if opts != nil && opts.Headers {
				h, err := s.FetchHeader(ctx, folder, info.ID)
				if errors.Is(err, mailaccess.ErrNotFound) {
					continue // deleted meanwhile
				}
				if err != nil {
					yield(nil, err)
					return
				}
				info.Header = h
			}
			if !yield(driver.NewMessage(s, info), nil) {
				return
			}
		}
	}
}

// Open streams a message's bytes. Only whole messages (nil or zero opts).
func (s *Store) Open(ctx context.Context, folder string, id mailaccess.ID, opts *mailaccess.OpenOptions) (io.ReadCloser, error) {
	if err := s.begin(ctx); err != nil {
		return nil, errs.Op("open", folder, err)
	}
	if !opts.IsZero() {
		return nil, errs.Unsupported("open part", mailaccess.CapPartial, "objects are read whole")
	}
	key, err := s.objectKey(folder, id)
	if err != nil {
		return nil, errs.Op("open", folder, err)
	}
	r, err := s.b.NewReader(ctx, key, nil)
	if err != nil {
		return nil, errs.Op("open", folder, err)
	}
	return r, nil
}

// FetchHeader reads the message up to the end of its header.
func (s *Store) FetchHeader(ctx context.Context, folder string, id mailaccess.ID) (mailaccess.Header, error) {
	rc, err := s.Open(ctx, folder, id, nil)
	if err != nil {
		return mailaccess.Header{}, err
	}
	defer rc.Close()
	h, err := mailaccess.ParseHeader(rc)
	return h, errs.Op("fetch header", folder, err)
}

// SetFlags is not supported: objects keep no flags.
func (s *Store) SetFlags(ctx context.Context, folder string, ids []mailaccess.ID, op mailaccess.FlagOp, flags ...mailaccess.Flag) error {
	return errs.Unsupported("set flags", mailaccess.CapFlags, "objects keep no flags")
}

// Search is not supported: it would download every object.
func (s *Store) Search(ctx context.Context, folder string, c mailaccess.Criteria) ([]mailaccess.ID, error) {
	return nil, errs.Unsupported("search", mailaccess.CapSearch, "object storage cannot search message contents")
}

// Delete removes messages; IDs already gone are ignored.
func (s *Store) Delete(ctx context.Context, folder string, ids ...mailaccess.ID) error {
	if err := s.begin(ctx); err != nil {
		return errs.Op("delete", folder, err)
	}
	if _, err := s.exists(ctx, folder); err != nil {
		return errs.Op("delete", folder, err)
	}
	for _, id := range ids {
		key, err := s.objectKey(folder, id)
		if err != nil {
			return errs.Op("delete", folder, err)
		}
		if err := s.b.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return errs.Op("delete", folder, err)
		}
	}
	return nil
}

// newID returns a fresh unkeyed ID: the time in nanoseconds, so IDs sort
// in append order, and a random suffix.
func newID() mailaccess.ID {
	var r [6]byte
	rand.Read(r[:])
	return mailaccess.ID(fmt.Sprintf("u-%016x%s", time.Now().UnixNano(), hex.EncodeToString(r[:])))
}

// Append stores a new message; its ID is returned.
func (s *Store) Append(ctx context.Context, folder string, r io.Reader, opts *mailaccess.AppendOptions) (mailaccess.ID, error) {
	if err := s.begin(ctx); err != nil {
		return "", errs.Op("append", folder, err)
	}
	id := newID()
	if _, err := s.write(ctx, folder, id, r, opts); err != nil {
		return "", errs.Op("append", folder, err)
	}
	return id, nil
}

var validKey = regexp.MustCompile(`^[A-Za-z0-9_-]{1,200}$`)

// AppendWithKey stores a message under key with a conditional write: if
// a message with key exists (appended before a crash, or by another
// worker at the same time) nothing is written and its ID is returned.
func (s *Store) AppendWithKey(ctx context.Context, folder, key string, r io.Reader, opts *mailaccess.AppendOptions) (mailaccess.ID, error) {
	if err := s.begin(ctx); err != nil {
		return "", errs.Op("append", folder, err)
	}
	if !validKey.MatchString(key) {
		return "", errs.Op("append", folder, fmt.Errorf("key %q: want 1 to 200 letters, digits, '-' or '_': %w", key, mailaccess.ErrInvalid))
	}
	id := mailaccess.ID("k-" + key)
	if _, err := s.write(ctx, folder, id, r, opts); err != nil {
		if gcerrors.Code(err) == gcerrors.FailedPrecondition {
			return id, nil // stored already: idempotent
		}
		return "", errs.Op("append", folder, err)
	}
	return id, nil
}

// HasKey reports whether a message was stored under key.
func (s *Store) HasKey(ctx context.Context, folder, key string) (mailaccess.ID, bool, error) {
	if err := s.begin(ctx); err != nil {
		return "", false, errs.Op("has key", folder, err)
	}
	if !validKey.MatchString(key) {
		return "", false, nil
	}
	id := mailaccess.ID("k-" + key)
	k, err := s.objectKey(folder, id)
	if err != nil {
		return "", false, errs.Op("has key", folder, err)
	}
	ok, err := s.b.Exists(ctx, k)
	if err != nil {
		return "", false, errs.Op("has key", folder, err)
	}
	if !ok {
		return "", false, nil
	}
	return id, true, nil
}

// write uploads one object with a conditional write. For file:// the
// data is fsynced before fileblob renames the file into place.
func (s *Store) write(ctx context.Context, folder string, id mailaccess.ID, r io.Reader, opts *mailaccess.AppendOptions) (string, error) {
	if _, err := s.exists(ctx, folder); err != nil {
		return "", err
	}
	key, err := s.objectKey(folder, id)
	if err != nil {
		return "", err
	}
	var date time.Time
	if opts != nil {
		date = opts.Date
	}
	var f *os.File
	wo := &blob.WriterOptions{
		ContentType: "message/rfc822",
		IfNotExist:  true,
		BeforeWrite: func(as func(any) bool) error {
			as(&f) // fileblob: the temporary file
			return nil
		},
	}
	if !date.IsZero() {
		wo.Metadata = map[string]string{"mailaccess-date": date.UTC().Format(time.RFC3339)}
	}
	// The writer's context is separate: cancelling it discards the
	// object, which is what a cancelled append must do.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.b.NewWriter(wctx, key, wo)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(w, ctxReader{ctx, r}); err != nil {
		cancel()
		w.Close()
		return "", err
	}
	if f != nil {
		if err := f.Sync(); err != nil {
			cancel()
			w.Close()
			return "", fmt.Errorf("fsync %s: %w", key, err)
		}
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	if s.root != "" {
		p := filepath.Join(s.root, filepath.FromSlash(key))
		if !date.IsZero() {
			if err := os.Chtimes(p, date, date); err != nil {
				s.log.Warn("blobstore: could not set the internal date", "key", key, "err", err)
			}
		}
		s.mu.Lock()
		s.dirty[filepath.Dir(p)] = true
		s.mu.Unlock()
	}
	return key, nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Flush makes the appends that returned durable: for file:// buckets it
// fsyncs each directory an object was renamed into since the last Flush
// (the objects' data was fsynced by Append). Other buckets are durable
// when Append returns.
func (s *Store) Flush(ctx context.Context) error {
	if err := s.begin(ctx); err != nil {
		return errs.Op("flush", "", err)
	}
	s.mu.Lock()
	dirs := s.dirty
	s.dirty = map[string]bool{}
	s.mu.Unlock()
	for d := range dirs {
		if err := syncDir(d); err != nil {
			s.mu.Lock()
			for d := range dirs {
				s.dirty[d] = true
			}
			s.mu.Unlock()
			return errs.Op("flush", "", fmt.Errorf("fsync directory %s: %w", d, err))
		}
	}
	return nil
}

// Copy copies messages to dest under new IDs.
func (s *Store) Copy(ctx context.Context, folder string, ids []mailaccess.ID, dest string) ([]mailaccess.ID, error) {
	return s.transfer(ctx, "copy", folder, ids, dest, false)
}

// Move copies messages to dest and then deletes them from folder (not
// atomic: a crash in between leaves them in both folders).
func (s *Store) Move(ctx context.Context, folder string, ids []mailaccess.ID, dest string) ([]mailaccess.ID, error) {
	return s.transfer(ctx, "move", folder, ids, dest, true)
}

func (s *Store) transfer(ctx context.Context, op, folder string, ids []mailaccess.ID, dest string, remove bool) ([]mailaccess.ID, error) {
	if err := s.begin(ctx); err != nil {
		return nil, errs.Op(op, folder, err)
	}
	if _, err := s.exists(ctx, folder); err != nil {
		return nil, errs.Op(op, folder, err)
	}
	if _, err := s.exists(ctx, dest); err != nil {
		return nil, errs.Op(op, dest, err)
	}
	out := make([]mailaccess.ID, 0, len(ids))
	for _, id := range ids {
		rc, err := s.Open(ctx, folder, id, nil)
		if err != nil {
			return out, err
		}
		nid := newID()
		_, err = s.write(ctx, dest, nid, rc, nil)
		rc.Close()
		if err != nil {
			return out, errs.Op(op, folder, err)
		}
		out = append(out, nid)
	}
	if err := s.Flush(ctx); err != nil {
		return out, err
	}
	if remove {
		if err := s.Delete(ctx, folder, ids...); err != nil {
			return out, err
		}
	}
	return out, nil
}

// CreateFolder writes the folder's marker object.
func (s *Store) CreateFolder(ctx context.Context, name string) error {
	if err := s.begin(ctx); err != nil {
		return errs.Op("create folder", name, err)
	}
	d, err := s.dir(name)
	if err != nil {
		return errs.Op("create folder", name, err)
	}
	if strings.EqualFold(name, mailaccess.Inbox) {
		return nil
	}
	err = s.b.WriteAll(ctx, d+markerName, nil, &blob.WriterOptions{ContentType: "text/plain", IfNotExist: true})
	if err != nil && gcerrors.Code(err) != gcerrors.FailedPrecondition {
		return errs.Op("create folder", name, err)
	}
	if s.root != "" {
		return errs.Op("create folder", name, syncDir(filepath.Join(s.root, filepath.FromSlash(d))))
	}
	return nil
}

// RenameFolder copies every message to the new folder, then deletes the
// old one (not atomic: see Move).
func (s *Store) RenameFolder(ctx context.Context, name, newName string) error {
	if strings.EqualFold(name, mailaccess.Inbox) {
		return errs.Op("rename folder", name, fmt.Errorf("INBOX cannot be renamed: %w", mailaccess.ErrInvalid))
	}
	if _, err := s.exists(ctx, name); err != nil {
		return errs.Op("rename folder", name, err)
	}
	if err := s.CreateFolder(ctx, newName); err != nil {
		return err
	}
	var ids []mailaccess.ID
	d, _ := s.dir(name)
	for obj, err := range s.objects(ctx, d) {
		if err != nil {
			return errs.Op("rename folder", name, err)
		}
		ids = append(ids, s.infoOf(name, d, obj).ID)
	}
	if _, err := s.transfer(ctx, "rename folder", name, ids, newName, true); err != nil {
		return err
	}
	return s.DeleteFolder(ctx, name)
}

// DeleteFolder deletes a folder and every message in it.
func (s *Store) DeleteFolder(ctx context.Context, name string) error {
	if err := s.begin(ctx); err != nil {
		return errs.Op("delete folder", name, err)
	}
	if strings.EqualFold(name, mailaccess.Inbox) {
		return errs.Op("delete folder", name, fmt.Errorf("INBOX cannot be deleted: %w", mailaccess.ErrInvalid))
	}
	d, err := s.exists(ctx, name)
	if err != nil {
		return errs.Op("delete folder", name, err)
	}
	for obj, err := range s.objects(ctx, d) {
		if err != nil {
			return errs.Op("delete folder", name, err)
		}
		if err := s.b.Delete(ctx, obj.Key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return errs.Op("delete folder", name, err)
		}
	}
	if err := s.b.Delete(ctx, d+markerName); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return errs.Op("delete folder", name, err)
	}
	return nil
}

// Watch polls the folder's listing; see driver.PollWatch.
func (s *Store) Watch(ctx context.Context, folder string, opts *mailaccess.WatchOptions) iter.Seq2[mailaccess.Event, error] {
	return driver.PollWatch(ctx, folder, opts, driver.Poller{
		Errors: errs,
		Poll: func(ctx context.Context) (driver.Snapshot, error) {
			if err := s.begin(ctx); err != nil {
				return driver.Snapshot{}, errs.Op("watch", folder, err)
			}
			d, err := s.exists(ctx, folder)
			if err != nil {
				return driver.Snapshot{}, errs.Op("watch", folder, err)
			}
			var snap driver.Snapshot
			for obj, err := range s.objects(ctx, d) {
				if err != nil {
					return driver.Snapshot{}, errs.Op("watch", folder, err)
				}
				snap.IDs = append(snap.IDs, s.infoOf(folder, d, obj).ID)
			}
			snap.Count = len(snap.IDs)
			return snap, nil
		},
	})
}

// syncDir fsyncs a directory (where the system allows it).
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) && !isUnsupportedSync(err) {
		return err
	}
	return nil
}

// isUnsupportedSync: some systems (Windows) cannot fsync a directory.
func isUnsupportedSync(err error) bool {
	return strings.Contains(strings.ToLower(err.Error()), "access is denied") || bytes.Contains([]byte(err.Error()), []byte("not supported"))
}

var (
	_ mailaccess.Mailbox   = (*Store)(nil)
	_ driver.KeyedAppender = (*Store)(nil)
	_ driver.Flusher       = (*Store)(nil)
	_ driver.FolderManager = (*Store)(nil)
)
