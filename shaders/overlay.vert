#version 330 core
// A textured rectangle in window pixels (top-left origin), for the status line and overlays.
uniform vec4 u_rect;        // x, y, width, height in pixels, y from the top
uniform vec2 u_screen;      // framebuffer width, height
out vec2 v_uv;
void main() {
    vec2 p = vec2(float(gl_VertexID & 1), float((gl_VertexID >> 1) & 1));
    v_uv = p;
    vec2 px = u_rect.xy + p * u_rect.zw;
    gl_Position = vec4(px.x / u_screen.x * 2.0 - 1.0, 1.0 - px.y / u_screen.y * 2.0, 0.0, 1.0);
}
