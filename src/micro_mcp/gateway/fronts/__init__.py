"""Where clients connect: stdio, Streamable HTTP and the 2024-11-05 HTTP+SSE transport.

Fronts frame messages and apply HTTP rules; everything else is the core's."""
