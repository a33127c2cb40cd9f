// Command writefloor measures the least work any tool must do to leave a
// directory of flow files in the page cache: for every regular file of a
// model directory (a tcpflow output), it creates a file of the same size
// under the same name, fills it with 16 KiB page-aligned pwrites, sets its
// times and closes it — no capture to read, nothing to parse. bpflow's file
// mode cannot be faster than this; scripts/bench-offline.sh prints it beside
// the tools so the ratio goals can be judged against the machine.
//
//	writefloor -model DIR -o NEWDIR
package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

const chunk = 16 << 10

func main() {
	model := flag.String("model", "", "directory whose files' names and sizes to reproduce")
	out := flag.String("o", "", "directory to create (must not exist)")
	flag.Parse()
	if *model == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: writefloor -model DIR -o NEWDIR")
		os.Exit(2)
	}
	files, err := sizes(*model)
	if err == nil {
		err = os.Mkdir(*out, 0o755)
	}
	if err == nil {
		err = write(*out, files)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "writefloor:", err)
		os.Exit(1)
	}
}

type file struct {
	name string
	size int64
}

// sizes lists the model's regular files (report.xml aside) in directory order.
func sizes(dir string) ([]file, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read model directory: %w", err)
	}
	var files []file
	for _, e := range entries {
		if !e.Type().IsRegular() || e.Name() == "report.xml" {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("stat model file: %w", err)
		}
		files = append(files, file{e.Name(), info.Size()})
	}
	if len(files) == 0 {
		return nil, errors.New("model directory has no files")
	}
	return files, nil
}

func write(dir string, files []file) error {
	buf := make([]byte, chunk)
	for i := range buf {
		buf[i] = byte(i)
	}
	stamp := time.Unix(1, 0)
	var total int64
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		fd, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if err != nil {
			return err
		}
		for off := int64(0); off < f.size; off += chunk {
			if _, err := fd.WriteAt(buf[:min(chunk, f.size-off)], off); err != nil {
				fd.Close()
				return err
			}
		}
		if err := fd.Close(); err != nil {
			return err
		}
		if err := os.Chtimes(path, stamp, stamp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		total += f.size
	}
	fmt.Printf("writefloor files=%d bytes=%d\n", len(files), total)
	return nil
}
