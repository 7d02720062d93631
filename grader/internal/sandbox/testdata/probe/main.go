// Command probe tries, from inside a sandbox, the things a hostile test binary would try, and
// prints what happened. The sandbox's tests run it.
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Println("usage: probe mode")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "env":
		for _, kv := range os.Environ() {
			fmt.Println("env", kv)
		}
		if data, err := os.ReadFile("/proc/1/environ"); err == nil {
			fmt.Println("pid1-environ", strings.ReplaceAll(string(data), "\x00", " "))
		}
	case "read":
		for _, p := range os.Args[2:] {
			_, err := os.ReadFile(p)
			fmt.Printf("read %s %v\n", p, err == nil)
		}
	case "write":
		for _, p := range os.Args[2:] {
			err := os.WriteFile(p, []byte("x"), 0o644)
			fmt.Printf("write %s %v\n", p, err == nil)
		}
	case "run":
		out, err := exec.Command(os.Args[2], os.Args[3:]...).CombinedOutput()
		fmt.Printf("run %s: %s (err %v)\n", os.Args[2], strings.TrimSpace(string(out)), err)
	case "id":
		wd, _ := os.Getwd()
		fmt.Println("uid", os.Getuid(), "pid", os.Getpid(), "wd", wd)
	case "net":
		l, err := net.Listen("tcp", "localhost:0")
		fmt.Println("listen", err == nil)
		if err == nil {
			go func() {
				if c, err := l.Accept(); err == nil {
					c.Write([]byte("ok"))
					c.Close()
				}
			}()
			c, err := net.Dial("tcp", l.Addr().String())
			if err == nil {
				b, _ := io.ReadAll(c)
				fmt.Println("loopback", string(b) == "ok")
			}
		}
		_, err = net.DialTimeout("tcp", "1.1.1.1:80", 2*time.Second)
		fmt.Println("outside", err == nil)
	case "fds":
		in := os.NewFile(3, "in")
		out := os.NewFile(4, "out")
		data, _ := io.ReadAll(in)
		fmt.Fprintf(out, "got %s", data)
	case "detach":
		// A child in its own session that outlives this process and keeps its output open.
		cmd := exec.Command(os.Args[0], "sleep", os.Args[2])
		cmd.Stdout = os.Stdout
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			fmt.Println("detach failed", err)
			os.Exit(1)
		}
		fmt.Println("detached")
	case "sleep":
		time.Sleep(time.Hour)
	case "hog":
		var keep [][]byte
		for {
			b := make([]byte, 64<<20)
			for i := range b {
				b[i] = 1
			}
			keep = append(keep, b)
			fmt.Println("holding", len(keep)*64, "MiB")
		}
	case "fork":
		n := 0
		for range 500 {
			cmd := exec.Command(os.Args[0], "sleep", "x")
			if err := cmd.Start(); err != nil {
				break
			}
			n++
		}
		fmt.Println("started", n)
	case "bigfile":
		f, err := os.Create(os.Args[2])
		if err != nil {
			fmt.Println("create", err)
			return
		}
		signal := make([]byte, 1<<20)
		written := 0
		for range 64 {
			if _, err := f.Write(signal); err != nil {
				break
			}
			written++
		}
		fmt.Println("wrote MiB", written)
	}
}
