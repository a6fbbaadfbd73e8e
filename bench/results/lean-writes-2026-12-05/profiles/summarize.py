import sys, re, collections
path = sys.argv[1]; n = int(sys.argv[2]) if len(sys.argv) > 2 else 40
incl = collections.Counter(); self_ = collections.Counter(); total = 0; idle = 0
for line in open(path):
    line = line.rstrip()
    if not line: continue
    stack, _, count = line.rpartition(" ")
    count = int(count); total += count
    frames = [re.sub(r":\d+\)", ")", f) for f in stack.split(";")]
    frames = [f for f in frames if not f.startswith("process ") and not f.startswith("thread ")]
    if frames and ("select (selectors.py" in frames[-1] or "run_once" in frames[-1] and False):
        idle += count
    for f in set(frames): incl[f] += count
    if frames: self_[frames[-1]] += count
print(f"samples {total}, idle in select {idle} ({idle/total:.0%})")
print("--- inclusive")
for f, c in incl.most_common(n): print(f"{c/total:6.1%}  {f}")
print("--- self")
for f, c in self_.most_common(25): print(f"{c/total:6.1%}  {f}")
