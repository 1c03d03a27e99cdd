// The agent's HTTP/1.1 server: one thread per kept-alive connection, each answer in one write.
using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;

namespace Aliyun.Serverless.Runtime
{
    internal sealed class Reply
    {
        public readonly int Status;
        public readonly string ContentType;
        public readonly byte[] Body;
        public readonly List<KeyValuePair<string, string>> Extra = new List<KeyValuePair<string, string>>();

        public Reply(int status, string contentType, byte[] body)
        {
            Status = status;
            ContentType = contentType ?? "application/octet-stream";
            Body = body ?? new byte[0];
        }
    }

    internal sealed class Request
    {
        public string Method;
        public string Path;
        public Dictionary<string, string> Headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        public byte[] Body;

        public string Header(string name)
        {
            string v;
            return Headers.TryGetValue(name, out v) ? v : null;
        }
    }

    internal sealed class Server
    {
        private const int MaxLine = 1 << 20;  // x-fc-http-params may carry 8 KB of headers, base64'd
        private readonly TcpListener listener;
        private readonly Func<Request, Reply> handler;

        public Server(string host, int port, Func<Request, Reply> handler)
        {
            IPAddress address;
            if (!IPAddress.TryParse(host, out address))
            {
                address = IPAddress.Any;
            }
            listener = new TcpListener(address, port);
            listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            this.handler = handler;
        }

        /// <summary>A server without a listener of its own: a standby host (Aliyun.Serverless.CA's Standby)
        /// accepts the connections and hands each one to <see cref="Connection"/>.</summary>
        public Server(Func<Request, Reply> handler)
        {
            this.handler = handler;
        }

        public void Start()
        {
            listener.Start(128);
        }

        public void Serve()
        {
            while (true)
            {
                Socket s = listener.AcceptSocket();
                var t = new Thread(() => Connection(s));
                t.IsBackground = true;
                t.Start();
            }
        }

        internal void Connection(Socket s)
        {
            try
            {
                s.NoDelay = true;  // the answer is one write: send it at once
                using (var stream = new NetworkStream(s, true))
                {
                    var input = new Input(stream);
                    while (true)
                    {
                        Request req = Read(input);
                        if (req == null)
                        {
                            return;
                        }
                        Reply reply;
                        try
                        {
                            reply = handler(req);
                        }
                        catch (Exception e)
                        {
                            Console.Error.WriteLine(e);
                            reply = new Reply(500, "application/json", Encoding.UTF8.GetBytes(
                                Json.Object("errorMessage", e.Message)));
                        }
                        string connection = req.Header("connection");
                        bool close = connection != null && connection.Equals("close", StringComparison.OrdinalIgnoreCase);
                        Write(stream, reply, close);
                        if (close)
                        {
                            return;
                        }
                    }
                }
            }
            catch (IOException)
            {
                // the emulator closed the connection
            }
            catch (SocketException)
            {
            }
            catch (FormatException)
            {
                // not HTTP
            }
            finally
            {
                s.Dispose();
            }
        }

        private static Request Read(Input input)
        {
            string line = input.Line();
            while (line != null && line.Length == 0)
            {
                line = input.Line();  // a stray CRLF between requests
            }
            if (line == null)
            {
                return null;
            }
            string[] parts = line.Split(' ');
            if (parts.Length < 2)
            {
                return null;
            }
            var req = new Request { Method = parts[0] };
            int q = parts[1].IndexOf('?');
            req.Path = q < 0 ? parts[1] : parts[1].Substring(0, q);
            for (string h = input.Line(); !string.IsNullOrEmpty(h); h = input.Line())
            {
                int colon = h.IndexOf(':');
                if (colon > 0)
                {
                    string name = h.Substring(0, colon).Trim();
                    if (!req.Headers.ContainsKey(name))
                    {
                        req.Headers[name] = h.Substring(colon + 1).Trim();
                    }
                }
            }
            string te = req.Header("transfer-encoding");
            if (te != null && te.Equals("chunked", StringComparison.OrdinalIgnoreCase))
            {
                req.Body = input.Chunked();
            }
            else
            {
                string length = req.Header("content-length");
                req.Body = input.Exactly(length == null ? 0 : int.Parse(length.Trim()));
            }
            return req;
        }

        private static void Write(Stream stream, Reply r, bool close)
        {
            var head = new StringBuilder(256);
            head.Append("HTTP/1.1 ").Append(r.Status).Append(r.Status == 200 ? " OK" : r.Status == 404 ? " Not Found" : " Error")
                .Append("\r\nContent-Type: ").Append(r.ContentType)
                .Append("\r\nContent-Length: ").Append(r.Body.Length)
                .Append("\r\nx-fc-max-memory-usage: ").Append(Memory.PeakMb()).Append("\r\n");
            foreach (var kv in r.Extra)
            {
                head.Append(kv.Key).Append(": ").Append(kv.Value).Append("\r\n");
            }
            head.Append(close ? "Connection: close\r\n\r\n" : "\r\n");
            byte[] h = Encoding.ASCII.GetBytes(head.ToString());
            if (r.Body.Length < 65536)
            {
                byte[] all = new byte[h.Length + r.Body.Length];
                Buffer.BlockCopy(h, 0, all, 0, h.Length);
                Buffer.BlockCopy(r.Body, 0, all, h.Length, r.Body.Length);
                stream.Write(all, 0, all.Length);
            }
            else
            {
                stream.Write(h, 0, h.Length);
                stream.Write(r.Body, 0, r.Body.Length);
            }
            stream.Flush();
        }

        /// <summary>A buffered reader of HTTP/1.1 requests: lines, fixed-length and chunked bodies.</summary>
        private sealed class Input
        {
            private readonly Stream stream;
            private readonly byte[] buf = new byte[65536];
            private int pos;
            private int lim;

            public Input(Stream stream)
            {
                this.stream = stream;
            }

            private bool Fill()
            {
                pos = 0;
                lim = Math.Max(0, stream.Read(buf, 0, buf.Length));
                return lim > 0;
            }

            public string Line()
            {
                StringBuilder b = null;
                while (true)
                {
                    if (pos == lim && !Fill())
                    {
                        if (b == null)
                        {
                            return null;
                        }
                        throw new IOException("connection closed inside a line");
                    }
                    int start = pos;
                    while (pos < lim && buf[pos] != '\n')
                    {
                        pos++;
                    }
                    if (b == null)
                    {
                        b = new StringBuilder(pos - start + 16);
                    }
                    for (int i = start; i < pos; i++)
                    {
                        b.Append((char)buf[i]);
                    }
                    if (b.Length > MaxLine)
                    {
                        throw new IOException("line too long");
                    }
                    if (pos < lim)
                    {
                        pos++;  // the LF
                        int n = b.Length;
                        return n > 0 && b[n - 1] == '\r' ? b.ToString(0, n - 1) : b.ToString();
                    }
                }
            }

            public byte[] Exactly(int n)
            {
                byte[] result = new byte[n];
                for (int got = 0; got < n;)
                {
                    if (pos == lim && !Fill())
                    {
                        throw new IOException("connection closed inside a body");
                    }
                    int k = Math.Min(n - got, lim - pos);
                    Buffer.BlockCopy(buf, pos, result, got, k);
                    pos += k;
                    got += k;
                }
                return result;
            }

            public byte[] Chunked()
            {
                var result = new MemoryStream();
                while (true)
                {
                    string size = Line() ?? "0";
                    int semi = size.IndexOf(';');
                    int n = Convert.ToInt32((semi < 0 ? size : size.Substring(0, semi)).Trim(), 16);
                    if (n == 0)
                    {
                        for (string t = Line(); !string.IsNullOrEmpty(t); t = Line())
                        {
                            // trailers: ignored
                        }
                        return result.ToArray();
                    }
                    byte[] chunk = Exactly(n);
                    result.Write(chunk, 0, chunk.Length);
                    Line();  // the CRLF after the chunk
                }
            }
        }
    }

    /// <summary>The process's peak resident size (VmHWM) in MB, two decimals (x-fc-max-memory-usage).</summary>
    internal static class Memory
    {
        public static string PeakMb()
        {
            try
            {
                foreach (string line in File.ReadLines("/proc/self/status"))
                {
                    if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    {
                        long kb = 0;
                        foreach (char c in line)
                        {
                            if (c >= '0' && c <= '9')
                            {
                                kb = kb * 10 + (c - '0');
                            }
                        }
                        return (kb / 1024.0).ToString("0.00", System.Globalization.CultureInfo.InvariantCulture);
                    }
                }
            }
            catch (IOException)
            {
            }
            return "0.00";
        }
    }
}
