import time, polars as pl, sys, os, threading
import tasks.dedup as D
from tasks.config import DedupConfig
from bench.corpus import make_corpus
def rss():
    return int(open("/proc/self/statm").read().split()[1])*4096/2**30
peak=[0]
def samp():
    while True:
        peak[0]=max(peak[0],rss()); time.sleep(0.05)
threading.Thread(target=samp,daemon=True).start()
b,p=make_corpus(int(sys.argv[1]))
print("after corpus", rss())
def wrap(name):
    f=getattr(D,name)
    def g(*a,**k):
        peak[0]=0; r0=rss(); t=time.time(); r=f(*a,**k); print(f"  {name:18s} {time.time()-t:6.1f}s rss {r0:.2f}->{rss():.2f} peak {peak[0]:.2f}", getattr(r,"height","")); return r
    setattr(D,name,g)
for n in ["_batch_keys","_candidate_pairs","_universe_sets","_similarities","_to_kept","_keep_rank"]: wrap(n)
r=D.find_duplicates(b, DedupConfig())
print("end", rss())
